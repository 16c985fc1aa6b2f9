// liger::matmul (int2 x int8, KERNELS.md section 19) against an int64 reference on the unpacked
// weights, exactly, on CPU and CUDA: every 2-bit code, M, N and K/4 that are not multiples of any
// tile, decode-like and larger shapes; pack/unpack as each other's inverse on every byte; the
// format's bit layout; registration and errors.
#include "liger/matmul_int2xint8.h"


#include <algorithm>
#include <array>
#include <functional>

#include "expect_error.h"
#include "ligerbench/registry.h"
#include "spec_reference.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

// a @ W exactly, W (K, N) decoded from `packed` by the format's definition (field i of byte
// b[r, n] is W[r + i*R, n] + 1): the matmul_int2xint8 spec's reference, float64 and exact for these
// integer sums, as int64.
at::Tensor int64_reference(const at::Tensor& a, const at::Tensor& packed) {
  return spec_reference("matmul_int2xint8", {{"a", a.cpu()}, {"b_packed", packed.cpu()}})[0].to(at::kLong);
}

// W itself: the reference with identity activations, I @ W.
at::Tensor decode_by_definition(const at::Tensor& packed) {
  return int64_reference(at::eye(4 * packed.size(0), at::kChar), packed);
}

class Int2MatmulTest : public ::testing::TestWithParam<std::string> {};

TEST_P(Int2MatmulTest, ExactAgainstInt64Reference) {
  const std::string device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device device = to_device(device_str);
  // (M, K, N): single rows, M across the 16/32/64-row tiles, N odd or not a multiple of 4 or of
  // the 32-column block, K/4 odd (K not a multiple of 8 or 32).
  std::vector<std::array<int64_t, 3>> shapes = {{1, 4, 1},    {3, 12, 5},    {1, 256, 33},  {7, 100, 31},
                                                {16, 128, 64}, {17, 68, 130}, {33, 260, 97}, {64, 512, 256},
                                                {65, 36, 40}, {130, 132, 9}};
  // On the GPU also decode-like and split-K shapes of the size the kernel is for.
  if (device_str == "cuda") {
    shapes.push_back({1, 4096, 4096});
    shapes.push_back({64, 4096, 1024});
    shapes.push_back({8, 14336, 1000});
    shapes.push_back({300, 2052, 520});
  }
  for (const auto& [M, K, N] : shapes) {
    at::manual_seed(M * 131 + K * 7 + N);
    const auto opts = at::TensorOptions().device(device);
    const at::Tensor a = at::randint(-128, 128, {M, K}, opts.dtype(at::kChar));
    const at::Tensor b = at::randint(0, 256, {K / 4, N}, opts.dtype(at::kByte));
    const at::Tensor c = liger::matmul(a, b);
    const std::string what = device_str + " M " + std::to_string(M) + " K " + std::to_string(K) + " N " + std::to_string(N);
    ASSERT_EQ(c.scalar_type(), at::kInt) << what;
    ASSERT_EQ(c.sizes(), (std::vector<int64_t>{M, N})) << what;
    EXPECT_TRUE(at::equal(c.cpu().to(at::kLong), int64_reference(a, b))) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, Int2MatmulTest, ::testing::Values("cpu", "cuda"));

TEST(Int2Matmul, EveryCodeAndTheExtremes) {
  for (const auto& device_str : visible_devices("EveryCodeAndTheExtremes")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    for (int code = 0; code < 4; ++code) {
      // All weights one value: c = (code - 1) * row sums of a; a at -128 and 127.
      const int64_t K = 4 * 37, N = 6;
      const at::Tensor b = at::full({K / 4, N}, code * 0x55, opts.dtype(at::kByte));
      at::Tensor a = at::full({3, K}, 127, opts.dtype(at::kChar));
      a[1].fill_(-128);
      const at::Tensor c = liger::matmul(a, b).cpu();
      EXPECT_TRUE(at::all(c[0] == 127 * K * (code - 1)).item<bool>()) << device_str << " code " << code << c;
      EXPECT_TRUE(at::all(c[1] == -128 * K * (code - 1)).item<bool>()) << device_str << " code " << code << c;
      EXPECT_TRUE(at::all(c[2] == 127 * K * (code - 1)).item<bool>()) << device_str << " code " << code;
    }
    // One nonzero weight at quarter i of row r: c picks a[:, r + i R] times the weight.
    const int64_t R = 5, K = 4 * R;
    const at::Tensor a = at::arange(1, K + 1, opts.dtype(at::kChar)).view({1, K});
    for (int64_t i = 0; i < 4; ++i) {
      at::Tensor b = at::full({R, 1}, 0x55, opts.dtype(at::kByte));  // all weights 0
      b[2][0] = static_cast<int64_t>((0x55 & ~(3 << (2 * i))) | (2 << (2 * i)));  // weight +1 at quarter i, row 2
      EXPECT_EQ(liger::matmul(a, b).cpu().item<int32_t>(), 2 + i * R + 1) << device_str << " quarter " << i;
    }
  }
}

TEST(Int2Matmul, PackAndUnpackAreInverse) {
  for (const auto& device_str : visible_devices("PackAndUnpackAreInverse")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    // Every byte value.
    const at::Tensor all_bytes = at::arange(0, 256, opts.dtype(at::kLong)).to(at::kByte).view({64, 4});
    const at::Tensor w = liger::unpack_weights(all_bytes);
    ASSERT_EQ(w.sizes(), (std::vector<int64_t>{256, 4}));
    EXPECT_EQ(w.scalar_type(), at::kChar);
    EXPECT_TRUE(at::equal(w.cpu().to(at::kLong), decode_by_definition(all_bytes))) << device_str;
    EXPECT_TRUE(at::equal(liger::pack_weights(w), all_bytes)) << device_str;
    // Ternary weights round trip and multiply as their unpacked values; the input is not modified.
    const at::Tensor t = at::randint(-1, 2, {44, 9}, opts.dtype(at::kChar));
    const at::Tensor t_copy = t.clone();
    const at::Tensor packed = liger::pack_weights(t);
    EXPECT_TRUE(at::equal(t, t_copy)) << "pack_weights changed its input";
    EXPECT_TRUE(at::equal(liger::unpack_weights(packed), t)) << device_str;
    const at::Tensor a = at::randint(-128, 128, {5, 44}, opts.dtype(at::kChar));
    EXPECT_TRUE(at::equal(liger::matmul(a, packed).cpu().to(at::kLong), at::matmul(a.cpu().to(at::kLong), t.cpu().to(at::kLong))));
  }
}

TEST(Int2Matmul, EmptyShapes) {
  for (const auto& device_str : visible_devices("EmptyShapes")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    EXPECT_EQ(liger::matmul(at::zeros({0, 8}, opts.dtype(at::kChar)), at::zeros({2, 3}, opts.dtype(at::kByte))).sizes(),
              (std::vector<int64_t>{0, 3}));
    const at::Tensor c = liger::matmul(at::zeros({2, 0}, opts.dtype(at::kChar)), at::zeros({0, 3}, opts.dtype(at::kByte)));
    EXPECT_TRUE(at::equal(c.cpu(), at::zeros({2, 3}, at::kInt)));
  }
}

TEST(Int2Matmul, ClearErrors) {
  const at::Tensor a = at::zeros({2, 8}, at::kChar), b = at::zeros({2, 3}, at::kByte);
  expect_error("K not a multiple of 4", [&] { liger::matmul(at::zeros({2, 6}, at::kChar), b); }, "is not a multiple of 4");
  expect_error("K mismatch", [&] { liger::matmul(a, at::zeros({3, 3}, at::kByte)); }, "b has 3 packed rows but a has K = 8");
  expect_error("float activations", [&] { liger::matmul(a.to(at::kFloat), b); }, "a must be int8");
  expect_error("int8 weights", [&] { liger::matmul(a, b.to(at::kChar)); }, "b (packed weights) must be uint8");
  expect_error("1-D a", [&] { liger::matmul(at::zeros({8}, at::kChar), b); }, "a must be 2-D (M, K)");
  expect_error("pack K not a multiple of 4", [&] { liger::pack_weights(at::zeros({6, 3}, at::kChar)); },
               "is not a multiple of 4");
  expect_error("pack out of range", [&] { liger::pack_weights(at::full({4, 3}, 3, at::kChar)); },
               "values in {-1, 0, 1, 2}");
  expect_error("pack float", [&] { liger::pack_weights(at::zeros({4, 3})); }, "must be an integer tensor");
  expect_error("bits 4", [&] { liger::pack_weights(at::zeros({4, 3}, at::kChar), 4); }, "only bits = 2");
  expect_error("unpack int8", [&] { liger::unpack_weights(at::zeros({4, 3}, at::kChar)); }, "must be uint8");
}

TEST(Int2Matmul, RegisteredWithTheDispatcher) {
  // Its CPU and CUDA kernels: ConformanceBackends.EveryKernelHasA{Cpu,Cuda}Kernel (harness_tests).
  ASSERT_NE(ligerbench::find_kernel("matmul_int2xint8"), nullptr) << "not registered";
  ASSERT_NO_FATAL_FAILURE(expect_ops_registered({"liger::pack_weights", "liger::unpack_weights"}));
}

}  // namespace
