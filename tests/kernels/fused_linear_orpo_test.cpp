// What is specific to liger::fused_linear_orpo (its option sets against the float64 reference are in
// fused_linear_preference_test.cpp): the module's defaults and its extra outputs (log_odds_ratio,
// log_odds_chosen).
#include "liger/fused_linear_orpo.h"

#include "liger/nn/fused_linear_preference.h"
#include "preference_test_util.h"

namespace {

using namespace ligerbench::testing;

TEST(FusedLinearOrpo, ModuleDefaultsAndExtras) {
  liger::LigerFusedLinearORPOLoss module;
  EXPECT_DOUBLE_EQ(module->options.beta(), 0.1);
  EXPECT_TRUE(module->options.compute_nll_loss());
  EXPECT_EQ(module->options.chunk_size(), 1);
  at::manual_seed(9);
  const at::Tensor x = at::randn({4, 6, 8}, at::kDouble), w = at::randn({30, 8}, at::kDouble);
  const at::Tensor y = at::randint(0, 30, {4, 6});
  const auto o = module->forward(w, x, y);
  ASSERT_TRUE(o.log_odds_ratio.defined() && o.log_odds_chosen.defined());
  // loss = NLL - beta * log_odds_ratio (alpha is 1 for ORPO).
  EXPECT_NEAR(o.loss.item<double>(), o.nll_loss.item<double>() - 0.1 * o.log_odds_ratio.item<double>(), 1e-12);
  EXPECT_TRUE(at::allclose(o.chosen_rewards, 0.1 * o.chosen_logps));
  EXPECT_TRUE((o.chosen_logps <= 0).all().item<bool>()) << "averaged log-probs are at most 0";
}

}  // namespace
