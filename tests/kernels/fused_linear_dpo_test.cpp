// What is specific to liger::fused_linear_dpo (its option sets against the float64 reference,
// with and without a reference model and for every loss_type, are in
// fused_linear_preference_test.cpp): the precomputed reference log-probs path against the
// reference-model path; the module and its errors.
#include "liger/fused_linear_dpo.h"

#include "liger/nn/fused_linear_preference.h"
#include "preference_test_util.h"

namespace {

using namespace ligerbench::testing;

// The reference model's log-probs given precomputed give what the reference model gives.
TEST(FusedLinearDpo, PrecomputedReferenceLogpsMatchReferenceModel) {
  at::manual_seed(11);
  const at::Tensor x = at::randn({6, 7, 12}, at::kDouble).requires_grad_(true);
  const at::Tensor w = at::randn({30, 12}, at::kDouble).requires_grad_(true);
  const at::Tensor y = at::randint(0, 30, {6, 7});
  const at::Tensor rx = at::randn({6, 7, 10}, at::kDouble), rw = at::randn({30, 10}, at::kDouble);
  const at::Tensor rb = at::randn({30}, at::kDouble);
  const auto with_model = liger::fused_linear_dpo(x, w, y, c10::nullopt, rx, rw, rb);
  // The reference model's log-probs are the policy's log-probs of that model (a DPO without reference).
  const auto ref_alone = liger::fused_linear_dpo(rx, rw, y, rb, c10::nullopt, c10::nullopt, c10::nullopt,
                                                 c10::nullopt, c10::nullopt, -100, 0.1, 1.0, false, false);
  const auto with_logps =
      liger::fused_linear_dpo(x, w, y, c10::nullopt, c10::nullopt, c10::nullopt, c10::nullopt,
                              ref_alone.chosen_logps, ref_alone.rejected_logps);
  EXPECT_TRUE(at::allclose(with_model.loss, with_logps.loss, 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(with_model.chosen_rewards, with_logps.chosen_rewards, 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(with_model.chosen_rewards, 0.1 * (with_model.chosen_logps - ref_alone.chosen_logps)))
      << "chosen_rewards = beta * (chosen_logps - ref_chosen_logps)";
  const auto g1 = torch::autograd::grad({with_model.loss}, {x, w});
  const auto g2 = torch::autograd::grad({with_logps.loss}, {x, w});
  EXPECT_TRUE(at::allclose(g1[0], g2[0], 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(g1[1], g2[1], 1e-12, 1e-12));
  EXPECT_FALSE(at::allclose(with_model.loss, ref_alone.loss)) << "the reference model changes the loss";
}

TEST(FusedLinearDpo, ModuleDefaultsAndLossTypeErrors) {
  liger::LigerFusedLinearDPOLoss module;
  EXPECT_FALSE(module->options.compute_nll_loss());
  EXPECT_TRUE(module->options.use_ref_model());
  EXPECT_EQ(module->options.loss_type(), "sigmoid");
  EXPECT_DOUBLE_EQ(module->options.discopop_tau(), 0.05);
  auto message = [](const liger::LigerFusedLinearDPOLossOptions& o) {
    try {
      liger::LigerFusedLinearDPOLoss m(o);
    } catch (const c10::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(liger::LigerFusedLinearDPOLossOptions().loss_type("ipo")).find("'ipo' is not implemented"),
            std::string::npos);
  EXPECT_NE(message(liger::LigerFusedLinearDPOLossOptions().loss_type("kto")).find("unknown loss_type 'kto'"),
            std::string::npos);
  EXPECT_NE(message(liger::LigerFusedLinearDPOLossOptions().loss_type("exo_pair")).find("0 < label_smoothing"),
            std::string::npos);
  EXPECT_NE(message(liger::LigerFusedLinearDPOLossOptions().loss_type("robust").label_smoothing(0.5))
                .find("0 <= label_smoothing < 0.5"),
            std::string::npos);
  at::manual_seed(2);
  const at::Tensor x = at::randn({4, 3, 8}), w = at::randn({16, 8}), y = at::randint(0, 16, {4, 3});
  try {
    module->forward(w, x, y);
    ADD_FAILURE() << "use_ref_model without a reference model must fail";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("use_ref_model needs ref_input and ref_weight"), std::string::npos)
        << e.what();
  }
  try {
    module->forward(w, x, y, c10::nullopt, at::randn({4, 3, 5}), at::randn({15, 5}));
    ADD_FAILURE() << "a reference lm_head of another vocabulary must fail";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("ref_weight must have V = 16"), std::string::npos) << e.what();
  }
  const auto out = module->forward(w, x, y, c10::nullopt, at::randn({4, 3, 5}), at::randn({16, 5}));
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
}

}  // namespace
