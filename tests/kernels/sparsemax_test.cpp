// liger::sparsemax against the sort/cumsum definition in float64 on CPU and CUDA: forward and dX
// for every dtype, odd and non-power-of-two widths, every CUDA size class, an empty batch, any
// dim of a 3-D input; ties, all-equal rows, large offsets, -inf entries; rows sum to 1; finite
// differences; registration, module and errors.
#include "liger/sparsemax.h"

#include <torch/csrc/autograd/autograd.h>

#include <limits>
#include <tuple>

#include "expect_error.h"
#include "finite_diff.h"
#include "liger/nn/sparsemax.h"
#include "spec_reference.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

// The sparsemax spec's float64 reference (harness/specs/sparsemax_spec.cpp): Liger's
// torch_sparsemax by sort and cumsum, ending in relu so that its gradient takes the support
// strictly (y > 0), as KERNELS.md's backward does.
at::Tensor sort_sparsemax(const at::Tensor& x, int64_t dim) {
  return spec_reference("sparsemax", {{"input", x}}, {{"dim", std::to_string(dim)}})[0];
}

// Forward, the row sums and dX of liger::sparsemax(x, dim) against the float64 definition.
void check_against_reference(const std::string& what, const at::Tensor& x, int64_t dim) {
  const at::ScalarType dtype = x.scalar_type();
  const at::Tensor dy = at::randn(x.sizes(), x.options());
  at::Tensor y;
  ASSERT_NO_FATAL_FAILURE(expect_unary_op_matches(
      what, x, dy, [dim](const at::Tensor& t) { return liger::sparsemax(t, dim); },
      [dim](const at::Tensor& t) { return sort_sparsemax(t, dim); }, &y));
  // Liger's test: rows sum to 1 within (1e-4, 1e-4) in fp32; one rounding of y otherwise.
  if (x.numel() > 0) expect_sums_to_one(what, y, dim, 1e-4, dtype == at::kFloat ? 1e-4 : 2e-2);
}

// (device, dtype); each case runs the whole shape list (one process per case under CTest).
using Param = DeviceDtype;

class SparsemaxTest : public ::testing::TestWithParam<Param> {};

TEST_P(SparsemaxTest, MatchesSortDefinition) {
  const auto& [device_str, dtype] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  // Odd and non-power-of-two widths, an empty batch, then every CUDA size class up to the longest
  // rows the kernels take (32768 in every dtype; Liger's benchmark CSV sweeps V up to 32768 in
  // fp32); past 32 elements a thread the 16-bit backward re-reads the row.
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {2, 1},    {37, 2},    {2, 41},   {37, 123}, {2, 512},    {37, 1023},  {2, 1500},  {37, 4096},
      {2, 4097}, {0, 64},    {3, 8192}, {3, 12345}, {3, 16384}, {3, 32767}, {3, 32768}};
  for (const auto& [rows, cols] : shapes) {
    at::manual_seed(29 + rows * 31 + cols);
    const at::Tensor x = at::randn({rows, cols}, at::TensorOptions().device(to_device(device_str)).dtype(dtype));
    check_against_reference(device_str + " " + dtype_label(dtype) + " " + std::to_string(rows) + "x" +
                                std::to_string(cols),
                            x, -1);
  }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, SparsemaxTest, every_device_and_dtype(), device_dtype_name);

TEST(Sparsemax, AnyDimOfA3dInput) {
  // Liger's test: (2, 128, 512) and (5, 123, 123) with dim -1 and 1; here smaller, every dim.
  for (const auto& device_str : visible_devices("AnyDimOfA3dInput")) {
    at::manual_seed(11);
    for (const auto dtype : {at::kFloat, at::kBFloat16}) {
      const at::Tensor x = at::randn({5, 123, 41}, at::TensorOptions().device(to_device(device_str)).dtype(dtype));
      for (const int64_t dim : {-1, 1, 0, -2, 2}) {
        check_against_reference(device_str + " " + dtype_label(dtype) + " dim " + std::to_string(dim), x, dim);
      }
    }
  }
}

TEST(Sparsemax, TiesAndAllEqualRows) {
  for (const auto& device_str : visible_devices("TiesAndAllEqualRows")) {
    for (const auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
      for (const int64_t cols : {1, 3, 64, 1000, 4096}) {
        at::Tensor x = at::randn({6, cols}, at::kDouble).round().div(2);  // many exact ties
        x[0].fill_(0.75);                                                // all equal: y = 1/n
        x[1].fill_(-3.0);
        x[1].slice(0, 0, std::min<int64_t>(cols, 3)).fill_(2.0);          // a tied top of three
        x[2].fill_(0.0);
        x[2][0] = 1.0;                                                    // the rest sits exactly at tau
        x[3].fill_(1e3);                                                  // all equal and large
        const at::Tensor xd = x.to(dtype).to(to_device(device_str));
        const std::string what = device_str + " " + dtype_label(dtype) + " cols " + std::to_string(cols);
        check_against_reference(what, xd, -1);
        const at::Tensor y = liger::sparsemax(xd).cpu().to(at::kDouble);
        EXPECT_TRUE(at::allclose(y[0], at::full({cols}, 1.0 / cols, at::kDouble), 1e-2, 1e-6)) << what << y[0];
        EXPECT_TRUE(at::allclose(y[3], at::full({cols}, 1.0 / cols, at::kDouble), 1e-2, 1e-6)) << what << y[3];
        if (cols >= 3) {
          EXPECT_TRUE(at::allclose(y[1].slice(0, 0, 3), at::full({3}, 1.0 / 3, at::kDouble), 1e-2, 1e-6)) << what;
          EXPECT_EQ(y[1].slice(0, 3).abs().sum().item<double>(), 0.0) << what;
          EXPECT_EQ(y[2][0].item<double>(), 1.0) << what;
          EXPECT_EQ(y[2].slice(0, 1).abs().sum().item<double>(), 0.0) << what;
        }
      }
    }
  }
}

TEST(Sparsemax, LargeOffsetsKeepFp32Accuracy) {
  // tau is searched relative to the row's max, so an offset of 1000 costs no accuracy.
  for (const auto& device_str : visible_devices("LargeOffsetsKeepFp32Accuracy")) {
    at::manual_seed(13);
    const at::Tensor x = (1000 + 0.05 * at::randn({8, 2048})).to(to_device(device_str));
    check_against_reference(device_str + " offset 1000", x, -1);
  }
}

TEST(Sparsemax, MinusInfinityEntriesGetZero) {
  // The sort-based definition gives NaN rows here (-inf * 0 in its support sum); ours treats a
  // -inf entry as a masked one: y = 0 there, sparsemax of the finite entries elsewhere.
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& device_str : visible_devices("MinusInfinityEntriesGetZero")) {
    at::manual_seed(17);
    const at::Tensor finite = at::randn({4, 300}, at::kDouble);
    at::Tensor x = at::cat({finite, at::full({4, 100}, -inf, at::kDouble)}, 1);
    const at::Tensor y = liger::sparsemax(x.to(at::kFloat).to(to_device(device_str))).cpu().to(at::kDouble);
    EXPECT_EQ(y.slice(1, 300).abs().sum().item<double>(), 0.0);
    expect_close("finite part", y.slice(1, 0, 300), sort_sparsemax(finite, -1), at::kFloat);
  }
}

TEST(Sparsemax, FiniteDifferencesInFloat64) {
  at::manual_seed(7);
  // Spread inputs: no element sits within the step of the support threshold.
  at::Tensor x = (2 * at::randn({3, 4, 9}, at::kDouble)).requires_grad_(true);
  for (const int64_t dim : {-1, 1, 0}) {
    expect_gradients_match_finite_differences("sparsemax dim " + std::to_string(dim),
                                              [dim](const auto& in) { return liger::sparsemax(in[0], dim); }, {x});
  }
}

TEST(Sparsemax, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  const at::Tensor x = at::randn({64, 1000});
  const at::Tensor y_cpu = liger::sparsemax_forward(x);
  const at::Tensor y_gpu = liger::sparsemax_forward(x.cuda()).cpu();
  EXPECT_TRUE(at::allclose(y_cpu, y_gpu, 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(y_cpu > 0, y_gpu > 0)) << "the supports differ";
  const at::Tensor dy = at::randn_like(x);
  EXPECT_TRUE(at::allclose(liger::sparsemax_backward(dy, y_cpu), liger::sparsemax_backward(dy.cuda(), y_cpu.cuda()).cpu(),
                           1e-5, 1e-6));
}

TEST(Sparsemax, BackwardFollowsTheSupportOfY) {
  // KERNELS.md: S = {y > 0}, dx = dy - mean_S(dy) on S, 0 elsewhere, straight from the op.
  const at::Tensor y = at::tensor({0.5, 0.0, 0.25, 0.25, 0.0}).view({1, 5});
  const at::Tensor dy = at::tensor({1.0, 2.0, 3.0, -1.0, 5.0}).view({1, 5});
  const at::Tensor dx = liger::sparsemax_backward(dy, y);
  EXPECT_TRUE(at::allclose(dx, at::tensor({0.0, 0.0, 2.0, -2.0, 0.0}).view({1, 5}))) << dx;
}

TEST(Sparsemax, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(
      expect_ops_registered({"liger::sparsemax", "liger::sparsemax_forward", "liger::sparsemax_backward"}));
  at::Tensor x = at::randn({2, 8}).requires_grad_(true);
  at::Tensor y = liger::sparsemax(x);
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(y, "SparsemaxFunction"));
  at::NoGradGuard no_grad;
  const at::Tensor x3 = at::randn({3, 5, 7});
  EXPECT_TRUE(at::allclose(liger::sparsemax(x3, 1), sort_sparsemax(x3, 1), 1e-5, 1e-6));
}

TEST(Sparsemax, ClearErrors) {
  expect_error("an integer input", [&] { liger::sparsemax(at::ones({4, 8}, at::kLong)); },
               "input must be floating point");
  expect_error("dim 2 of a 2-D input", [&] { liger::sparsemax(at::ones({4, 8}), 2); }, "Dimension out of range");
  expect_error("a scalar", [&] { liger::sparsemax(at::ones({})); }, "at least 1 dim");
  expect_error("a gradient of the wrong shape", [&] { liger::sparsemax_backward(at::ones({4, 7}), at::ones({4, 8})); },
               "grad_out has shape");
}

TEST(Sparsemax, ModuleMirrorsLigerDefaults) {
  liger::LigerSparsemax by_default;
  EXPECT_EQ(by_default->options.dim(), -1);
  EXPECT_EQ(by_default->parameters().size(), 0u);
  liger::LigerSparsemax along_1(liger::LigerSparsemaxOptions().dim(1));
  const at::Tensor x = at::randn({2, 6, 5});
  EXPECT_TRUE(at::equal(along_1(x), liger::sparsemax(x, 1)));
  EXPECT_TRUE(at::equal(by_default(x), liger::sparsemax(x, -1)));
}

}  // namespace
