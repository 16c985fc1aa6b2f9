// The loss-only paths of jsd and fused_linear_jsd (issue 17, inference mode), on CPU and CUDA:
// jsd_forward and fused_linear_jsd_chunk without compute_grad give the training forward's loss
// and write no gradient; with grad mode off (torch.no_grad) inputs that require grad get the
// loss with no autograd node, as under inference mode.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <tuple>

#include "liger/fused_linear_jsd.h"
#include "liger/jsd.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

class LossOnly : public ::testing::TestWithParam<std::string> {};

TEST_P(LossOnly, JsdForwardWithoutGradientGivesTheSameLossAndNoGradient) {
  LIGER_SKIP_IF_NO_DEVICE(GetParam());
  const at::Device dev = to_device(GetParam());
  at::manual_seed(5);
  const at::Tensor q = at::log_softmax(at::randn({9, 131}), -1).to(dev);
  const at::Tensor p = at::log_softmax(at::randn({9, 131}), -1).to(dev);
  const at::Tensor labels = at::tensor({0, -100, 2, 3, -100, 5, 6, 7, 8}, at::kLong).to(dev);
  const auto [loss, grad] = liger::jsd_forward(q, p, labels, 0.3, -100, /*compute_grad=*/true);
  const auto [loss_only, no_grad] = liger::jsd_forward(q, p, labels, 0.3, -100, /*compute_grad=*/false);
  ASSERT_TRUE(grad.defined());
  EXPECT_FALSE(no_grad.defined()) << "the loss-only forward allocates no gradient";
  EXPECT_EQ(loss_only.item<float>(), loss.item<float>());
}

TEST_P(LossOnly, JsdUnderNoGradIsTheLossWithoutAGraph) {
  LIGER_SKIP_IF_NO_DEVICE(GetParam());
  const at::Device dev = to_device(GetParam());
  at::manual_seed(6);
  const at::Tensor q = at::log_softmax(at::randn({7, 64}), -1).to(dev).requires_grad_(true);
  const at::Tensor p = at::log_softmax(at::randn({7, 64}), -1).to(dev);
  const at::Tensor training = liger::jsd(q, p);
  ASSERT_TRUE(training.requires_grad());
  at::Tensor evaluation;
  {
    c10::NoGradGuard no_grad;
    evaluation = liger::jsd(q, p);
  }
  EXPECT_FALSE(evaluation.requires_grad());
  EXPECT_EQ(evaluation.grad_fn(), nullptr);
  EXPECT_EQ(evaluation.item<float>(), training.item<float>());
}

TEST_P(LossOnly, FusedLinearJsdChunkWithoutGradientLeavesTheLogits) {
  LIGER_SKIP_IF_NO_DEVICE(GetParam());
  const at::Device dev = to_device(GetParam());
  at::manual_seed(7);
  const at::Tensor s = at::randn({5, 67}).to(dev), t = at::randn({5, 67}).to(dev);
  const at::Tensor n = at::full({}, 5, at::TensorOptions().dtype(at::kLong).device(dev));
  at::Tensor logits = s.clone(), loss = at::empty({5}, s.options());
  liger::fused_linear_jsd_chunk(logits, t, c10::nullopt, n, loss, 0.5, -100, 2.0, /*compute_grad=*/true);
  at::Tensor kept = s.clone(), loss_only = at::empty({5}, s.options());
  liger::fused_linear_jsd_chunk(kept, t, c10::nullopt, n, loss_only, 0.5, -100, 2.0, /*compute_grad=*/false);
  EXPECT_FALSE(at::equal(logits, s)) << "with compute_grad the gradient overwrites the logits";
  EXPECT_TRUE(at::equal(kept, s)) << "without it the logits are not written";
  EXPECT_TRUE(at::equal(loss_only, loss));
}

TEST_P(LossOnly, FusedLinearJsdUnderNoGradIsTheLossWithoutAGraph) {
  LIGER_SKIP_IF_NO_DEVICE(GetParam());
  const at::Device dev = to_device(GetParam());
  at::manual_seed(8);
  const at::Tensor xs = at::randn({6, 16}).to(dev).requires_grad_(true);
  const at::Tensor ws = (at::randn({40, 16}) * 0.25).to(dev).requires_grad_(true);
  const at::Tensor xt = at::randn({6, 12}).to(dev), wt = (at::randn({40, 12}) * 0.25).to(dev);
  const at::Tensor training = liger::fused_linear_jsd(xs, ws, xt, wt);
  ASSERT_TRUE(training.requires_grad());
  at::Tensor evaluation;
  {
    c10::NoGradGuard no_grad;
    evaluation = liger::fused_linear_jsd(xs, ws, xt, wt);
  }
  EXPECT_EQ(evaluation.grad_fn(), nullptr);
  EXPECT_NEAR(evaluation.item<float>(), training.item<float>(), 1e-6 * std::abs(training.item<float>()));
}

INSTANTIATE_TEST_SUITE_P(Devices, LossOnly, ::testing::ValuesIn(test_devices()), string_param_name);

}  // namespace
