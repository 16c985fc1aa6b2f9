// liger::softmax against float64 on CPU and CUDA: forward and dX for every dtype, odd and
// non-power-of-two widths, every CUDA size class, an empty batch; rows of -inf against
// torch.softmax; finite differences; registration, module and errors.
#include "liger/softmax.h"

#include <torch/csrc/autograd/autograd.h>

#include <limits>
#include <tuple>

#include "expect_error.h"
#include "finite_diff.h"
#include "liger/nn/softmax.h"
#include "spec_reference.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct Shape {
  int64_t rows;
  int64_t cols;
};

// Forward, row sums and dX of one shape against float64.
void check_shape(const std::string& device_str, at::ScalarType dtype, Shape shape) {
  const std::string what = device_str + " " + dtype_label(dtype) + " " + std::to_string(shape.rows) + "x" +
                           std::to_string(shape.cols);
  at::manual_seed(17 + shape.rows * 31 + shape.cols);
  const auto opts = at::TensorOptions().device(to_device(device_str)).dtype(dtype);
  // Logits of a realistic spread (a few units), so the rows are neither flat nor one-hot.
  const at::Tensor x = 3 * at::randn({shape.rows, shape.cols}, opts);
  const at::Tensor dy = at::randn({shape.rows, shape.cols}, opts);
  at::Tensor y;
  ASSERT_NO_FATAL_FAILURE(expect_unary_op_matches(
      what, x, dy, [](const at::Tensor& t) { return liger::softmax(t); },
      [](const at::Tensor& t) { return spec_reference("softmax", {{"input", t}})[0]; }, &y));
  if (shape.rows > 0) expect_sums_to_one(what, y, -1, 0, dtype == at::kFloat ? 1e-5 : 2e-2);
}

// (device, dtype); each case runs the whole shape list (one process per case under CTest).
using Param = DeviceDtype;

class SoftmaxTest : public ::testing::TestWithParam<Param> {};

TEST_P(SoftmaxTest, MatchesFloat64Reference) {
  const auto& [device_str, dtype] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  // Liger's test shapes ((2,8), (4,16), (1,1023), (3*7,256), (1,4096)), odd and non-power-of-two
  // widths, an empty batch, then every CUDA size class up to the longest rows the CUDA kernels
  // take (8 items a thread, where the 16-bit backward re-reads the row; 16384 fp32, 32768 16-bit).
  std::vector<Shape> shapes = {{2, 8},    {4, 16},    {1, 1023}, {21, 256}, {1, 4096},  {67, 1},   {21, 41},
                               {67, 123}, {2, 1500},  {21, 4097}, {5, 4096}, {0, 64},   {3, 8192}, {3, 12345},
                               {3, 16384},
                               // the CUDA warp-per-row forward: 4, 8 and 16 packs a lane;
                               // 2048, 1024 and 512 fill every lane (the kernels without bounds tests)
                               {7, 520},  {9, 1032},  {6, 2048}, {5, 1024}, {3, 512}};
  if (dtype != at::kFloat) shapes.insert(shapes.end(), {{2, 32767}, {2, 32768}});
  for (const Shape& shape : shapes) check_shape(device_str, dtype, shape);
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, SoftmaxTest, every_device_and_dtype(), device_dtype_name);

// NaN where the reference is NaN, the same value (within the dtype's tolerance) elsewhere.
void expect_same_with_nans(const std::string& what, const at::Tensor& actual, const at::Tensor& expected,
                           at::ScalarType dtype) {
  const at::Tensor a = actual.cpu().to(at::kDouble), e = expected.cpu().to(at::kDouble);
  EXPECT_TRUE(at::equal(at::isnan(a), at::isnan(e))) << what << ": NaN positions differ\n" << a << "\n" << e;
  const at::Tensor finite = ~at::isnan(e);
  expect_close(what, a.masked_select(finite), e.masked_select(finite), dtype);
}

TEST(Softmax, RowsOfMinusInfinityMatchTorch) {
  const double inf = std::numeric_limits<double>::infinity();
  for (const std::string& device_str : visible_devices("RowsOfMinusInfinityMatchTorch")) {
    for (const auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
      for (const int64_t cols : {5, 64, 1000, 4096}) {
        at::Tensor x = at::randn({4, cols}, at::kDouble);
        x[0].fill_(-inf);                                            // all -inf: NaN in torch
        x[1].slice(0, 0, cols / 2 + 1).fill_(-inf);                   // some -inf: zeros there
        x[2].fill_(-inf);
        x[2][cols - 1] = 0.5;                                        // one finite entry: one-hot
        const at::Tensor xd = x.to(dtype).to(to_device(device_str));
        const at::Tensor y = liger::softmax(xd);
        const at::Tensor expected = spec_reference("softmax", {{"input", f64(xd)}})[0];
        ASSERT_TRUE(at::isnan(expected[0]).all().item<bool>());
        expect_same_with_nans(device_str + " " + dtype_label(dtype) + " cols " + std::to_string(cols), y, expected,
                              dtype);
        // torch's own kernel (fp32) agrees on where the NaNs are.
        EXPECT_TRUE(at::equal(at::isnan(y.cpu()), at::isnan(at::softmax(xd.to(at::kFloat), -1).cpu())));
      }
    }
  }
}

TEST(Softmax, LeadingDimsAndNonContiguousInput) {
  at::manual_seed(5);
  at::Tensor base = at::randn({3, 41, 7});
  at::Tensor x = base.transpose(1, 2);  // (3, 7, 41), not contiguous
  ASSERT_FALSE(x.is_contiguous());
  at::Tensor y = liger::softmax(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(at::allclose(y, at::softmax(x, -1), 1e-6, 1e-6));
}

TEST(Softmax, FiniteDifferencesInFloat64) {
  at::manual_seed(7);
  at::Tensor x = at::randn({3, 11}, at::kDouble).requires_grad_(true);
  expect_gradients_match_finite_differences("softmax", [](const auto& in) { return liger::softmax(in[0]); }, {x});
}

TEST(Softmax, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  const at::Tensor x = 4 * at::randn({64, 1000});
  const at::Tensor y_cpu = liger::softmax_forward(x);
  const at::Tensor y_gpu = liger::softmax_forward(x.cuda()).cpu();
  EXPECT_TRUE(at::allclose(y_cpu, y_gpu, 1e-5, 1e-7));
  const at::Tensor dy = at::randn_like(x);
  EXPECT_TRUE(at::allclose(liger::softmax_backward(dy, y_cpu), liger::softmax_backward(dy.cuda(), y_cpu.cuda()).cpu(),
                           1e-5, 1e-6));
}

TEST(Softmax, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(
      expect_ops_registered({"liger::softmax", "liger::softmax_forward", "liger::softmax_backward"}));
  at::Tensor x = at::randn({2, 8}).requires_grad_(true);
  at::Tensor y = liger::softmax(x);
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(y, "SoftmaxFunction"));
  // Without grad mode the op still runs (the CPU kernel registered for liger::softmax).
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(liger::softmax(x), at::softmax(x, -1), 1e-6, 1e-7));
}

TEST(Softmax, ClearErrors) {
  expect_error("an integer input", [&] { liger::softmax(at::ones({4, 8}, at::kLong)); },
               "input must be floating point");
  expect_error("a scalar", [&] { liger::softmax(at::ones({})); }, "at least 1 dim");
  expect_error("a gradient of the wrong shape", [&] { liger::softmax_backward(at::ones({4, 7}), at::ones({4, 8})); },
               "grad_out has shape");
}

TEST(Softmax, ModuleMatchesFunctional) {
  liger::LigerSoftmax softmax;
  EXPECT_EQ(softmax->parameters().size(), 0u);
  at::Tensor x = at::randn({2, 3, 50});
  EXPECT_TRUE(at::equal(softmax(x), liger::softmax(x)));
}

}  // namespace
