// liger::fused_linear_simpo against the float64 unfused reference of its KernelSpec (loss, every aux
// output, dX, dW, db) on CPU and CUDA in fp64/fp32/bf16/fp16: (beta, gamma) of Liger's tests,
// label smoothing 0/0.1, NLL on/off, beta 0 and large, ignore_index padding; mixed dtypes; the
// module's defaults (compute_nll_loss true, unlike the function's).
#include "liger/fused_linear_simpo.h"

#include "liger/nn/fused_linear_preference.h"
#include "preference_test_util.h"

namespace {

using namespace ligerbench::testing;

class FusedLinearSimpoTest : public ::testing::TestWithParam<PreferenceParam> {};

TEST_P(FusedLinearSimpoTest, MatchesFloat64) {
  const auto& [device, dtype] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device);
  const auto& spec = spec_of("fused_linear_simpo");
  const std::vector<std::map<std::string, std::string>> options = {
      {},
      {{"beta", "0.2"}, {"gamma", "0.85"}, {"bias", "true"}},
      {{"label_smoothing", "0.1"}, {"compute_nll_loss", "false"}, {"ignore_index", "42"}, {"ignore_fraction", "0.2"}},
      {{"beta", "0"}, {"alpha", "0.5"}},
      {{"beta", "40"}},
  };
  expect_options_match(spec, device, dtype, options);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedLinearSimpoTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"),
                                            ::testing::ValuesIn(preference_dtypes())),
                         preference_param_name);

TEST(FusedLinearSimpo, MixedInputAndWeightDtypes) {
  const auto& spec = spec_of("fused_linear_simpo");
  expect_mixed_dtypes_match(spec, {{"bias", "true"}});
}

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
