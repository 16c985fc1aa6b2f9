// liger::fused_linear_orpo against the float64 unfused reference of its KernelSpec (loss, every aux
// output including log_odds_ratio and log_odds_chosen, dX, dW, db) on CPU and CUDA in
// fp64/fp32/bf16/fp16: beta 0.1/0.2 of Liger's tests, beta 0 and large, a separate random
// nll_target, NLL off, ignore_index padding; mixed dtypes; the module.
#include "liger/fused_linear_orpo.h"

#include "liger/nn/fused_linear_preference.h"
#include "preference_test_util.h"

namespace {

using namespace ligerbench::testing;

class FusedLinearOrpoTest : public ::testing::TestWithParam<PreferenceParam> {};

TEST_P(FusedLinearOrpoTest, MatchesFloat64) {
  const auto& [device, dtype] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device);
  const auto& spec = spec_of("fused_linear_orpo");
  const std::vector<std::map<std::string, std::string>> options = {
      {},
      {{"beta", "0.2"}, {"bias", "true"}, {"nll_target", "true"}},
      {{"compute_nll_loss", "false"}, {"ignore_index", "42"}, {"ignore_fraction", "0.2"}},
      {{"beta", "0"}},
      {{"beta", "30"}},
  };
  expect_options_match(spec, device, dtype, options);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedLinearOrpoTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"),
                                            ::testing::ValuesIn(preference_dtypes())),
                         preference_param_name);

TEST(FusedLinearOrpo, MixedInputAndWeightDtypes) {
  const auto& spec = spec_of("fused_linear_orpo");
  expect_mixed_dtypes_match(spec, {{"bias", "true"}});
}

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
