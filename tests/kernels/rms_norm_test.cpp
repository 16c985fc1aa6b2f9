// liger::rms_norm against float64 on CPU and CUDA: forward, dX, dW for every dtype, casting
// mode, offset, odd and non-power-of-two sizes, a zero-row batch; options and errors.
#include "liger/rms_norm.h"

#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "expect_error.h"
#include "finite_diff.h"
#include "liger/nn/rms_norm.h"
#include "spec_reference.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct Shape {
  int64_t rows;
  int64_t cols;
};

// (device, dtype, casting mode, offset, shape, has weight, in place)
using Param = std::tuple<std::string, at::ScalarType, std::string, double, Shape, bool, bool>;

class RmsNormTest : public ::testing::TestWithParam<Param> {};

// The rms_norm spec's float64 reference: (y, dX, dW), dW undefined without a weight.
std::tuple<at::Tensor, at::Tensor, at::Tensor> reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& dy,
                                                         double eps, double offset) {
  const auto r = spec_reference_and_grads("rms_norm", {{"input", x}, {"weight", w}}, {dy},
                                          {{"eps", param_value(eps)}, {"offset", param_value(offset)}});
  return {r[0], r[1], r[2]};
}

TEST_P(RmsNormTest, MatchesFloat64Reference) {
  const auto& [device_str, dtype, casting, offset, shape, has_weight, in_place] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  at::manual_seed(1234 + shape.rows * 31 + shape.cols);
  const auto opts = at::TensorOptions().device(dev);
  at::Tensor x = at::randn({shape.rows, shape.cols}, opts.dtype(dtype)).requires_grad_(true);
  at::Tensor w;
  if (has_weight) w = ((offset == 0 ? 1.0 : 0.0) + 0.1 * at::randn({shape.cols}, opts)).to(dtype).requires_grad_(true);
  const at::Tensor dy = at::randn({shape.rows, shape.cols}, opts.dtype(dtype));
  const double eps = 1e-6;

  at::Tensor y = liger::rms_norm(x, optional_tensor(w), eps, offset, casting, in_place);
  ASSERT_EQ(y.scalar_type(), dtype);
  ASSERT_EQ(y.sizes(), x.sizes());
  std::vector<at::Tensor> inputs = {x};
  if (has_weight) inputs.push_back(w);
  const at::Tensor dy_arg = dy.clone();
  auto grads = torch::autograd::grad({y}, inputs, {dy_arg});
  auto [y_ref, dx_ref, dw_ref] = reference(x, w, dy, eps, offset);

  // "none" rounds the statistics to the storage dtype; its error is larger by design.
  const at::ScalarType tol_dtype = casting == "none" && dtype != at::kFloat ? at::kBFloat16 : dtype;
  expect_close("y", y, y_ref, tol_dtype);
  expect_close("dx", grads[0], dx_ref, tol_dtype);
  if (has_weight) {
    ASSERT_EQ(grads[1].scalar_type(), w.scalar_type());
    expect_close("dw", grads[1], dw_ref, tol_dtype);
  }
  if (in_place && shape.rows > 0) {
    // Liger's in-place backward writes dX into the upstream gradient's buffer.
    EXPECT_TRUE(at::equal(dy_arg, grads[0])) << "in_place: dX was not written into dY";
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [device, dtype, casting, offset, shape, has_weight, in_place] = info.param;
  return device + "_" + dtype_label(dtype) + "_" + casting + "_off" + std::to_string(static_cast<int>(offset)) + "_" +
         std::to_string(shape.rows) + "x" + std::to_string(shape.cols) + (has_weight ? "_w" : "_now") +
         (in_place ? "_inplace" : "");
}

// {7, 520} and {9, 1032} take the CUDA warp-per-row forward with 4, 8 and 16 packs a lane (16-bit:
// 65 and 129 packs; fp32: 130 and 258), rows not a multiple of the block's four warps. {5, 1024},
// {6, 2048} and {3, 4096} fill every lane (warp_rows::full_row): the kernels without bounds tests,
// with 4, 8 and 16 packs a lane (16-bit; fp32 1024 and 2048: 8 and 16).
INSTANTIATE_TEST_SUITE_P(
    AllModes, RmsNormTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                       ::testing::Values("llama", "gemma", "none"), ::testing::Values(0.0, 1.0),
                       ::testing::Values(Shape{256, 512}, Shape{615, 123}, Shape{63, 41}, Shape{7, 3000}, Shape{0, 64},
                                         Shape{7, 520}, Shape{9, 1032}, Shape{5, 1024}, Shape{6, 2048},
                                         Shape{3, 4096}),
                       ::testing::Values(true), ::testing::Values(false)),
    param_name);

INSTANTIATE_TEST_SUITE_P(
    Options, RmsNormTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kBFloat16),
                       ::testing::Values("llama"), ::testing::Values(0.0),
                       ::testing::Values(Shape{33, 4096}, Shape{5, 123}), ::testing::Bool(), ::testing::Bool()),
    param_name);

// Long rows and the benchmark's hidden size exercise the vectorized multi-item CUDA paths.
INSTANTIATE_TEST_SUITE_P(
    WideRows, RmsNormTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kBFloat16),
                       ::testing::Values("llama", "gemma"), ::testing::Values(0.0),
                       ::testing::Values(Shape{64, 4096}, Shape{3, 65536}, Shape{2, 16383}), ::testing::Values(true),
                       ::testing::Values(false)),
    param_name);

TEST(RmsNorm, WeightInFp32WithBf16Input) {
  for (const std::string& device_str : visible_devices("WeightInFp32WithBf16Input")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    at::Tensor x = at::randn({16, 256}, opts.dtype(at::kBFloat16)).requires_grad_(true);
    at::Tensor w = (1 + 0.1 * at::randn({256}, opts)).requires_grad_(true);
    at::Tensor y = liger::rms_norm(x, w, 1e-6, 0.0, "llama", false);
    EXPECT_EQ(y.scalar_type(), at::kBFloat16) << "output keeps x's dtype even with an fp32 weight";
    at::Tensor dy = at::randn_like(y);
    auto g = torch::autograd::grad({y}, {x, w}, {dy});
    EXPECT_EQ(g[1].scalar_type(), at::kFloat);
    auto [y_ref, dx_ref, dw_ref] = reference(x, w, dy, 1e-6, 0.0);
    expect_close("y", y, y_ref, at::kBFloat16);
    expect_close("dx", g[0], dx_ref, at::kBFloat16);
    expect_close("dw", g[1], dw_ref, at::kBFloat16);
  }
}

TEST(RmsNorm, FiniteDifferencesInFloat64) {
  at::manual_seed(7);
  at::Tensor x = at::randn({3, 7}, at::kDouble).requires_grad_(true);
  at::Tensor w = (1 + 0.1 * at::randn({7}, at::kDouble)).requires_grad_(true);
  for (const std::string casting : {"llama", "gemma"}) {
    expect_gradients_match_finite_differences(
        casting, [&](const auto& in) { return liger::rms_norm(in[0], in[1], 1e-6, 0.5, casting, false); }, {x, w});
  }
}

TEST(RmsNorm, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  at::Tensor x = at::randn({128, 1000}, at::kBFloat16);
  at::Tensor w = (1 + 0.1 * at::randn({1000})).to(at::kBFloat16);
  auto [y_cpu, r_cpu] = liger::rms_norm_forward(x, w, 1e-6, 0.0, "llama");
  auto [y_gpu, r_gpu] = liger::rms_norm_forward(x.cuda(), w.cuda(), 1e-6, 0.0, "llama");
  EXPECT_TRUE(at::allclose(r_cpu, r_gpu.cpu(), 1e-5, 1e-5));
  // Same rounding points; only the order of the fp32 sum of squares differs.
  EXPECT_LE((y_cpu.to(at::kFloat) - y_gpu.cpu().to(at::kFloat)).abs().max().item<float>(), 0.0625f);
}

TEST(RmsNorm, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(
      expect_ops_registered({"liger::rms_norm", "liger::rms_norm_forward", "liger::rms_norm_backward"}));
  // The autograd kernel: the output of a differentiable input carries liger's backward node.
  at::Tensor x = at::randn({2, 8}).requires_grad_(true);
  at::Tensor y = liger::rms_norm(x, c10::nullopt);
  ASSERT_TRUE(y.requires_grad());
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(y, "RmsNormFunction"));
}

TEST(RmsNorm, ClearErrors) {
  at::Tensor x = at::randn({4, 8});
  expect_error("a weight of the wrong size", [&] { liger::rms_norm(x, at::ones({7})); }, "weight must have shape (8,)");
  expect_error("an unknown casting mode", [&] { liger::rms_norm(x, at::ones({8}), 1e-6, 0.0, "mistral"); },
               "casting_mode must be");
  EXPECT_THROW(liger::rms_norm(at::ones({4, 8}, at::kLong), c10::nullopt), c10::Error);
}

TEST(RmsNorm, ModuleMirrorsLigerDefaults) {
  liger::LigerRMSNorm norm(liger::LigerRMSNormOptions(64));
  EXPECT_EQ(norm->options.eps(), 1e-6);
  EXPECT_EQ(norm->options.casting_mode(), "llama");
  EXPECT_TRUE(norm->options.in_place());
  EXPECT_TRUE(at::equal(norm->weight, at::ones({64})));
  liger::LigerRMSNorm gemma(liger::LigerRMSNormOptions(64).offset(1.0).casting_mode("gemma").init_fn("zeros"));
  EXPECT_TRUE(at::equal(gemma->weight, at::zeros({64})));
  at::Tensor x = at::randn({2, 3, 64});
  at::Tensor y = gemma(x);
  const at::Tensor expected =
      spec_reference("rms_norm", {{"input", f64(x)}, {"weight", f64(gemma->weight)}}, {{"offset", "1"}})[0].to(at::kFloat);
  EXPECT_TRUE(at::allclose(y, expected, 1e-5, 1e-5));
  liger::LigerRMSNorm plain(liger::LigerRMSNormOptions(64).elementwise_affine(false));
  EXPECT_FALSE(plain->weight.defined());
  EXPECT_EQ(plain->parameters().size(), 0u);
  EXPECT_THROW(liger::LigerRMSNorm(liger::LigerRMSNormOptions(8).init_fn("normal")), c10::Error);
}

}  // namespace
