// What is specific to liger::fused_linear_simpo (its option sets against the float64 reference are
// in fused_linear_preference_test.cpp): the module's defaults (compute_nll_loss true, unlike the
// function's).
#include "liger/fused_linear_simpo.h"

#include "liger/nn/fused_linear_preference.h"
#include "preference_test_util.h"

namespace {

using namespace ligerbench::testing;

TEST(FusedLinearSimpo, ModuleDefaultsDifferFromTheFunctions) {
  liger::LigerFusedLinearSimPOLoss module;
  EXPECT_TRUE(module->options.compute_nll_loss()) << "Liger's module computes the NLL by default";
  EXPECT_DOUBLE_EQ(module->options.gamma(), 0.5);
  at::manual_seed(4);
  const at::Tensor x = at::randn({4, 6, 8}, at::kDouble), w = at::randn({30, 8}, at::kDouble);
  const at::Tensor y = at::randint(0, 30, {4, 6});
  const auto m = module->forward(w, x, y);
  const auto f = liger::fused_linear_simpo(x, w, y);  // the function's default: no NLL
  EXPECT_DOUBLE_EQ(f.nll_loss.item<double>(), 0.0);
  EXPECT_GT(m.nll_loss.item<double>(), 0.0);
  EXPECT_NEAR(m.loss.item<double>(), f.loss.item<double>() + m.nll_loss.item<double>(), 1e-12)
      << "loss = alpha * NLL + the preference loss";
}

}  // namespace
