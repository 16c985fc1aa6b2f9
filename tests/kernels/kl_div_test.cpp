// liger::kl_div against float64 on CPU and CUDA: the loss and d/d y_pred for every reduction,
// log_target both ways, every dtype (and an fp32 target with a 16-bit y_pred, as Liger's tests
// use), V that is not a multiple of any block or vector size, a V of 128256 with few rows, an
// empty batch; nn.KLDivLoss agreement, finite differences, options and errors.
#include "liger/kl_div.h"

#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "divergence_case.h"
#include "expect_error.h"
#include "finite_diff.h"
#include "liger/nn/kl_div.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct Shape {
  int64_t rows;
  int64_t cols;
};

// (device, y_pred dtype, y_true dtype, reduction, log_target, shape)
using Param = std::tuple<std::string, at::ScalarType, at::ScalarType, std::string, bool, Shape>;

class KlDivTest : public ::testing::TestWithParam<Param> {};

// y_pred: log_softmax of randn; y_true: softmax (log_softmax with log_target) of randn, as
// Liger's tests and benchmark build them.
std::pair<at::Tensor, at::Tensor> make_inputs(Shape s, at::ScalarType pred_dtype, at::ScalarType true_dtype,
                                              bool log_target, const at::Device& dev) {
  at::Tensor y_pred = at::log_softmax(at::randn({s.rows, s.cols}), -1).to(dev, pred_dtype);
  at::Tensor logits = at::randn({s.rows, s.cols});
  at::Tensor y_true = (log_target ? at::log_softmax(logits, -1) : at::softmax(logits, -1)).to(dev, true_dtype);
  return {y_pred.requires_grad_(true), y_true};
}

TEST_P(KlDivTest, MatchesFloat64Reference) {
  const auto& [device_str, pred_dtype, true_dtype, reduction, log_target, shape] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  at::manual_seed(11 + shape.rows * 7 + shape.cols);
  auto [y_pred, y_true] = make_inputs(shape, pred_dtype, true_dtype, log_target, dev);
  const double eps = 1e-10;

  at::Tensor loss = liger::kl_div(y_pred, y_true, reduction, log_target, eps);
  EXPECT_EQ(loss.scalar_type(), at::kFloat) << "the loss is float32 whatever the input dtype";
  if (reduction == "none") {
    EXPECT_EQ(loss.sizes(), y_pred.sizes());
  } else {
    EXPECT_EQ(loss.dim(), 0);
  }
  // A random upstream gradient, so that the scaling by it is exercised (not the 1.0 shortcut).
  const at::Tensor g = at::randn(loss.sizes()).to(dev);
  const auto grads = torch::autograd::grad({loss}, {y_pred}, {g});
  ASSERT_EQ(grads[0].scalar_type(), pred_dtype) << "the gradient comes back in y_pred's dtype";

  at::Tensor pred64 = y_pred.detach().cpu().to(at::kDouble).requires_grad_(true);
  const at::Tensor ref = kl_reference(pred64, y_true.cpu().to(at::kDouble), reduction, log_target, eps);
  const at::Tensor ref_grad = torch::autograd::grad({ref}, {pred64}, {g.cpu().to(at::kDouble)})[0];
  // The loss is computed in fp32 from the very values the reference sees: hold it to fp32.
  expect_close("loss", loss, ref, at::kFloat);
  // Against the correctly rounded gradient: with "mean" in fp16, y_true / (BT * V) is below
  // fp16's smallest subnormal, so 0 is the right answer there, not a failure.
  expect_close("grad_y_pred", grads[0], ref_grad.to(pred_dtype), pred_dtype);
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [device, pred_dtype, true_dtype, reduction, log_target, shape] = info.param;
  return device + "_" + dtype_label(pred_dtype) + "_target" + dtype_label(true_dtype) + "_" + reduction +
         (log_target ? "_logtarget_" : "_") + std::to_string(shape.rows) + "x" + std::to_string(shape.cols);
}

INSTANTIATE_TEST_SUITE_P(
    AllReductions, KlDivTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat), ::testing::Values(at::kFloat),
                       ::testing::Values("batchmean", "sum", "mean", "none"), ::testing::Bool(),
                       ::testing::Values(Shape{41, 1271}, Shape{3, 128256}, Shape{64, 4096})),
    param_name);

INSTANTIATE_TEST_SUITE_P(
    HalfPrecision, KlDivTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kHalf, at::kBFloat16),
                       ::testing::Values(at::kFloat), ::testing::Values("batchmean", "sum", "mean", "none"),
                       ::testing::Bool(), ::testing::Values(Shape{41, 1271}, Shape{2, 128256})),
    param_name);

// y_true in y_pred's 16-bit dtype too.
INSTANTIATE_TEST_SUITE_P(
    SameDtypeTarget, KlDivTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kHalf, at::kBFloat16),
                       ::testing::Values(at::kHalf, at::kBFloat16), ::testing::Values("batchmean", "none"),
                       ::testing::Bool(), ::testing::Values(Shape{37, 1001})),
    [](const ::testing::TestParamInfo<Param>& info) { return param_name(info); });

// Odd vocabularies (scalar paths, partial packs) and a single element.
INSTANTIATE_TEST_SUITE_P(
    OddSizes, KlDivTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kBFloat16),
                       ::testing::Values(at::kFloat), ::testing::Values("batchmean", "none"), ::testing::Values(false),
                       ::testing::Values(Shape{1, 1}, Shape{5, 3}, Shape{7, 33}, Shape{1, 131071})),
    param_name);

TEST(KlDiv, EmptyBatch) {
  for (const std::string& device_str : visible_devices("EmptyBatch")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    at::Tensor y_pred = at::zeros({0, 17}, opts).requires_grad_(true);
    const at::Tensor y_true = at::zeros({0, 17}, opts);
    // As nn.KLDivLoss: a sum over nothing is 0; the averages divide 0 by 0.
    EXPECT_EQ(liger::kl_div(y_pred, y_true, "sum").item<float>(), 0.f) << device_str;
    EXPECT_TRUE(std::isnan(liger::kl_div(y_pred, y_true, "batchmean").item<float>())) << device_str;
    at::Tensor none = liger::kl_div(y_pred, y_true, "none");
    EXPECT_EQ(none.sizes(), y_pred.sizes());
    at::Tensor loss = liger::kl_div(y_pred, y_true, "sum");
    const auto g = torch::autograd::grad({loss}, {y_pred});
    EXPECT_EQ(g[0].sizes(), y_pred.sizes());
  }
}

TEST(KlDiv, UnalignedViews) {
  // Contiguous views one element into their storage: not 16-byte aligned, so the CUDA kernels
  // take their scalar path; the results must not change.
  for (const std::string& device_str : visible_devices("UnalignedViews")) {
    const at::Device dev = to_device(device_str);
    at::manual_seed(13);
    const int64_t rows = 9, cols = 1000;
    const at::Tensor pred_storage = at::log_softmax(at::randn({rows * cols + 1}), -1).to(dev);
    const at::Tensor true_storage = at::softmax(at::randn({rows * cols + 1}), -1).to(dev);
    at::Tensor y_pred = pred_storage.narrow(0, 1, rows * cols).view({rows, cols}).detach().requires_grad_(true);
    const at::Tensor y_true = true_storage.narrow(0, 1, rows * cols).view({rows, cols});
    at::Tensor aligned_pred = y_pred.detach().clone().requires_grad_(true);
    for (const std::string reduction : {"sum", "none"}) {
      at::Tensor a = liger::kl_div(y_pred, y_true, reduction), b = liger::kl_div(aligned_pred, y_true.clone(), reduction);
      EXPECT_TRUE(at::allclose(a, b, 1e-6, 1e-9)) << device_str << " " << reduction;
      const at::Tensor g = at::randn(a.sizes()).to(dev);
      EXPECT_TRUE(at::equal(torch::autograd::grad({a}, {y_pred}, {g})[0], torch::autograd::grad({b}, {aligned_pred}, {g})[0]))
          << device_str << " " << reduction;
    }
  }
}

TEST(KlDiv, MatchesNnKLDivLoss) {
  // The baseline the harness times: at::kl_div as nn.KLDivLoss calls it (batchmean = sum / BT).
  at::manual_seed(5);
  at::Tensor y_pred = at::log_softmax(at::randn({16, 999}), -1).requires_grad_(true);
  const at::Tensor y_true = at::softmax(at::randn({16, 999}), -1);
  at::Tensor mine = liger::kl_div(y_pred, y_true, "batchmean");
  at::Tensor theirs = at::kl_div(y_pred, y_true, at::Reduction::Sum) / 16.0;
  EXPECT_NEAR(mine.item<double>(), theirs.item<double>(), 1e-6 * std::abs(theirs.item<double>()));
  const auto g_mine = torch::autograd::grad({mine}, {y_pred})[0];
  const auto g_theirs = torch::autograd::grad({theirs}, {y_pred})[0];
  EXPECT_TRUE(at::allclose(g_mine, g_theirs, 1e-6, 1e-8));
  // log_target, mean: torch's own reduction enum.
  const at::Tensor log_true = at::log_softmax(at::randn({16, 999}), -1);
  EXPECT_NEAR(liger::kl_div(y_pred, log_true, "mean", true).item<double>(),
              at::kl_div(y_pred, log_true, at::Reduction::Mean, true).item<double>(), 1e-9);
}

TEST(KlDiv, FiniteDifferencesInFloat64) {
  at::manual_seed(9);
  for (const bool log_target : {false, true}) {
    for (const std::string reduction : {"batchmean", "none"}) {
      at::Tensor y_pred = at::log_softmax(at::randn({3, 5}, at::kDouble), -1).requires_grad_(true);
      const at::Tensor y_true = log_target ? at::log_softmax(at::randn({3, 5}, at::kDouble), -1)
                                           : at::softmax(at::randn({3, 5}, at::kDouble), -1);
      auto f = [&](const std::vector<at::Tensor>& in) { return liger::kl_div(in[0], y_true, reduction, log_target); };
      EXPECT_EQ(f({y_pred}).scalar_type(), at::kDouble) << "float64 inputs keep float64 for gradchecks";
      expect_gradients_match_finite_differences(reduction + " log_target " + (log_target ? "true" : "false"), f,
                                                {y_pred}, 1e-6, 1e-6, 1e-8);
    }
  }
}

TEST(KlDiv, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  const at::Tensor y_pred = at::log_softmax(at::randn({64, 5000}), -1);
  const at::Tensor y_true = at::softmax(at::randn({64, 5000}), -1);
  for (const std::string reduction : {"batchmean", "none"}) {
    const at::Tensor cpu = liger::kl_div_forward(y_pred, y_true, reduction, false, 1e-10);
    const at::Tensor gpu = liger::kl_div_forward(y_pred.cuda(), y_true.cuda(), reduction, false, 1e-10);
    EXPECT_TRUE(at::allclose(cpu, gpu.cpu(), 1e-5, 1e-7)) << reduction;
  }
  const at::Tensor g = at::scalar_tensor(0.37);
  EXPECT_TRUE(at::equal(liger::kl_div_backward(g, y_true, "sum", false, at::kFloat),
                        liger::kl_div_backward(g.cuda(), y_true.cuda(), "sum", false, at::kFloat).cpu()));
}

TEST(KlDiv, NoGradientForTheTarget) {
  at::Tensor y_pred = at::log_softmax(at::randn({4, 8}), -1).requires_grad_(true);
  at::Tensor y_true = at::softmax(at::randn({4, 8}), -1).requires_grad_(true);
  at::Tensor loss = liger::kl_div(y_pred, y_true, "batchmean");
  const auto g = torch::autograd::grad({loss}, {y_pred, y_true}, {}, false, false, /*allow_unused=*/true);
  EXPECT_TRUE(g[0].defined());
  EXPECT_FALSE(g[1].defined()) << "Liger returns no gradient for y_true";
}

TEST(KlDiv, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(expect_ops_registered({"liger::kl_div", "liger::kl_div_forward", "liger::kl_div_backward"}));
  at::Tensor y_pred = at::log_softmax(at::randn({2, 8}), -1).requires_grad_(true);
  at::Tensor loss = liger::kl_div(y_pred, at::softmax(at::randn({2, 8}), -1));
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(loss, "KlDivFunction"));
}

TEST(KlDiv, ClearErrors) {
  const at::Tensor p = at::randn({4, 8});
  expect_error([&] { liger::kl_div(p, at::randn({4, 9})); }, "y_true has shape");
  expect_error([&] { liger::kl_div(p, p, "avg"); }, "reduction must be");
  expect_error([&] { liger::kl_div(at::randn({2, 4, 8}), at::randn({2, 4, 8})); }, "y_pred must be 2-D");
  expect_error([&] { liger::kl_div(p, at::ones({4, 8}, at::kLong)); }, "y_true must be floating point");
}

TEST(KlDiv, ModuleMirrorsLigerDefaults) {
  liger::LigerKLDIVLoss loss_fn;
  EXPECT_EQ(loss_fn->options.reduction(), "mean") << "LigerKLDIVLoss extends nn.KLDivLoss: default 'mean'";
  EXPECT_EQ(loss_fn->options.eps(), 1e-10);
  EXPECT_FALSE(loss_fn->options.log_target());
  const at::Tensor y_pred = at::log_softmax(at::randn({3, 10}), -1);
  const at::Tensor y_true = at::softmax(at::randn({3, 10}), -1);
  EXPECT_NEAR(loss_fn(y_pred, y_true).item<double>(),
              at::kl_div(y_pred, y_true, at::Reduction::Mean).item<double>(), 1e-7);
  liger::LigerKLDIVLoss batchmean(liger::LigerKLDIVLossOptions().reduction("batchmean").log_target(true));
  EXPECT_NEAR(batchmean(y_pred, at::log(y_true)).item<double>(),
              at::kl_div(y_pred, at::log(y_true), at::Reduction::Sum, true).item<double>() / 3, 1e-6);
  EXPECT_THROW(liger::LigerKLDIVLoss(liger::LigerKLDIVLossOptions().reduction("avg")), c10::Error);
}

}  // namespace
