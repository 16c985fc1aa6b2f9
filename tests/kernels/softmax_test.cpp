// liger::softmax against float64 on CPU and CUDA: forward and dX for every dtype, odd and
// non-power-of-two widths, every CUDA size class, an empty batch; rows of -inf against
// torch.softmax; finite differences; registration, module and errors.
#include "liger/softmax.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <limits>
#include <tuple>

#include "finite_diff.h"
#include "liger/nn/softmax.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

// (device, dtype, rows, cols)
using Param = std::tuple<std::string, at::ScalarType, int64_t, int64_t>;

class SoftmaxTest : public ::testing::TestWithParam<Param> {};

TEST_P(SoftmaxTest, MatchesFloat64Reference) {
  const auto& [device_str, dtype, rows, cols] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  at::manual_seed(17 + rows * 31 + cols);
  const auto opts = at::TensorOptions().device(to_device(device_str)).dtype(dtype);
  // Logits of a realistic spread (a few units), so the rows are neither flat nor one-hot.
  at::Tensor x = (3 * at::randn({rows, cols}, opts)).requires_grad_(true);
  const at::Tensor dy = at::randn({rows, cols}, opts);

  at::Tensor y = liger::softmax(x);
  ASSERT_EQ(y.scalar_type(), dtype);
  ASSERT_EQ(y.sizes(), x.sizes());
  const at::Tensor dx = torch::autograd::grad({y}, {x}, {dy})[0];

  at::Tensor x64 = x.detach().cpu().to(at::kDouble).requires_grad_(true);
  at::Tensor y64 = at::softmax(x64, -1);
  const at::Tensor dx64 = torch::autograd::grad({y64}, {x64}, {dy.cpu().to(at::kDouble)})[0];
  expect_close("y", y, y64.detach(), dtype);
  expect_close("dx", dx, dx64, dtype);
  if (rows > 0) {
    const at::Tensor row_sums = y.to(at::kDouble).sum(-1).cpu();
    EXPECT_TRUE(at::allclose(row_sums, at::ones_like(row_sums), 0, dtype == at::kFloat ? 1e-5 : 2e-2)) << row_sums;
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [device, dtype, rows, cols] = info.param;
  return device + "_" + dtype_label(dtype) + "_" + std::to_string(rows) + "x" + std::to_string(cols);
}

// Liger's test shapes ((2,8), (4,16), (1,1023), (3*7,256), (1,4096)), odd widths, an empty batch.
INSTANTIATE_TEST_SUITE_P(
    Shapes, SoftmaxTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                       ::testing::Values(int64_t{2}, int64_t{21}, int64_t{67}),
                       ::testing::Values(int64_t{1}, int64_t{8}, int64_t{41}, int64_t{123}, int64_t{256}, int64_t{1023},
                                         int64_t{1500}, int64_t{4096}, int64_t{4097})),
    param_name);

INSTANTIATE_TEST_SUITE_P(EmptyBatch, SoftmaxTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"),
                                            ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                                            ::testing::Values(int64_t{0}), ::testing::Values(int64_t{64})),
                         param_name);

// The largest CUDA size classes (8 items a thread; the backward re-reads 16-bit rows) and the
// longest rows the CUDA kernels take (16384 fp32, 32768 16-bit).
INSTANTIATE_TEST_SUITE_P(WideRows, SoftmaxTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kBFloat16),
                                            ::testing::Values(int64_t{3}),
                                            ::testing::Values(int64_t{8192}, int64_t{12345}, int64_t{16384})),
                         param_name);
INSTANTIATE_TEST_SUITE_P(WidestHalfRows, SoftmaxTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kHalf, at::kBFloat16),
                                            ::testing::Values(int64_t{2}),
                                            ::testing::Values(int64_t{32767}, int64_t{32768})),
                         param_name);

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
  for (const std::string device_str : {"cpu", "cuda"}) {
    if (device_str == "cuda" && ligerbench::gpu_backend() == nullptr) {
      std::cout << "[  SKIPPED ] CUDA case of RowsOfMinusInfinityMatchTorch: no CUDA device\n";
      continue;
    }
    for (const auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
      for (const int64_t cols : {5, 64, 1000, 4096}) {
        at::Tensor x = at::randn({4, cols}, at::kDouble);
        x[0].fill_(-inf);                                            // all -inf: NaN in torch
        x[1].slice(0, 0, cols / 2 + 1).fill_(-inf);                   // some -inf: zeros there
        x[2].fill_(-inf);
        x[2][cols - 1] = 0.5;                                        // one finite entry: one-hot
        const at::Tensor xd = x.to(dtype).to(to_device(device_str));
        const at::Tensor y = liger::softmax(xd);
        const at::Tensor expected = at::softmax(xd.cpu().to(at::kDouble), -1);
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
  for (const char* name : {"liger::softmax", "liger::softmax_forward", "liger::softmax_backward"}) {
    auto op = c10::Dispatcher::singleton().findSchema({name, ""});
    ASSERT_TRUE(op.has_value()) << name << " has no schema";
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name << " has no CPU kernel";
  }
  at::Tensor x = at::randn({2, 8}).requires_grad_(true);
  at::Tensor y = liger::softmax(x);
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_NE(y.grad_fn()->name().find("SoftmaxFunction"), std::string::npos) << y.grad_fn()->name();
  // Without grad mode the op still runs (the CPU kernel registered for liger::softmax).
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(liger::softmax(x), at::softmax(x, -1), 1e-6, 1e-7));
}

TEST(Softmax, ClearErrors) {
  try {
    liger::softmax(at::ones({4, 8}, at::kLong));
    FAIL() << "an integer input was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("input must be floating point"), std::string::npos) << e.what();
  }
  try {
    liger::softmax(at::ones({}));
    FAIL() << "a scalar was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 1 dim"), std::string::npos) << e.what();
  }
  try {
    liger::softmax_backward(at::ones({4, 7}), at::ones({4, 8}));
    FAIL() << "a gradient of the wrong shape was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("grad_out has shape"), std::string::npos) << e.what();
  }
}

TEST(Softmax, ModuleMatchesFunctional) {
  liger::LigerSoftmax softmax;
  EXPECT_EQ(softmax->parameters().size(), 0u);
  at::Tensor x = at::randn({2, 3, 50});
  EXPECT_TRUE(at::equal(softmax(x), liger::softmax(x)));
}

}  // namespace
