// The four alignment losses (fused_linear_cpo, _dpo, _orpo, _simpo) against the float64 unfused
// reference of their KernelSpecs (preference_test_util.h: loss, every aux output, dX, dW, db) on
// CPU and CUDA in fp64/fp32/bf16/fp16, each with the option sets of Liger's tests for it, and
// with mixed input/weight dtypes. What is specific to one loss (its module, its errors, DPO's
// reference model) stays in fused_linear_<loss>_test.cpp.
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "preference_test_util.h"
#include "test_helpers.h"

namespace {

using namespace ligerbench::testing;

using Options = std::vector<std::map<std::string, std::string>>;

// Each loss's option sets, as expect_options_match runs them.
Options options_of(const std::string& kernel) {
  if (kernel == "fused_linear_cpo")
    // (beta, alpha) of Liger's tests, label smoothing, summed and averaged log-probs, ignore_index
    // padding and random ignored positions, beta 0 and large.
    return {
        {},
        {{"bias", "true"}, {"beta", "0.2"}, {"alpha", "0.85"}},
        {{"label_smoothing", "0.1"}, {"ignore_index", "42"}, {"ignore_fraction", "0.2"}},
        {{"average_log_prob", "true"}, {"bias", "true"}, {"compute_nll_loss", "false"}},
        {{"beta", "0"}},
        {{"beta", "25"}, {"average_log_prob", "true"}},
    };
  if (kernel == "fused_linear_dpo") {
    // With a reference model (its own lm_head) and without, input_grad on (Liger's benchmark: only
    // dW, db), every loss_type.
    Options options = {
        {{"input_grad", "true"}},
        {{"input_grad", "true"}, {"bias", "false"}, {"beta", "0.2"}, {"compute_nll_loss", "true"}},
        {{"input_grad", "true"}, {"use_ref_model", "false"}, {"average_log_prob", "true"}},
        {{"ignore_index", "42"}, {"ignore_fraction", "0.3"}},  // Liger's benchmark: only dW, db
        {{"input_grad", "true"}, {"beta", "0"}},
        {{"input_grad", "true"}, {"beta", "20"}},
    };
    for (const std::string type :
         {"hinge", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "apo_zero", "apo_down", "discopop"})
      options.push_back({{"input_grad", "true"},
                         {"loss_type", type},
                         {"average_log_prob", "true"},
                         {"label_smoothing", type == "exo_pair" || type == "robust" ? "0.1" : "0.0"}});
    return options;
  }
  if (kernel == "fused_linear_orpo")
    // beta 0.1/0.2 of Liger's tests, beta 0 and large, a separate random nll_target, NLL off.
    return {
        {},
        {{"beta", "0.2"}, {"bias", "true"}, {"nll_target", "true"}},
        {{"compute_nll_loss", "false"}, {"ignore_index", "42"}, {"ignore_fraction", "0.2"}},
        {{"beta", "0"}},
        {{"beta", "30"}},
    };
  // fused_linear_simpo: gamma, label smoothing, NLL off, beta 0 and large.
  return {
      {},
      {{"beta", "0.2"}, {"gamma", "0.85"}, {"bias", "true"}},
      {{"label_smoothing", "0.1"}, {"compute_nll_loss", "false"}, {"ignore_index", "42"}, {"ignore_fraction", "0.2"}},
      {{"beta", "0"}, {"alpha", "0.5"}},
      {{"beta", "40"}},
  };
}

// The params of the mixed-dtype case: a bias (DPO has one by default) and a gradient for the input
// (DPO alone has none by default), so that dX, dW and db are all checked.
std::map<std::string, std::string> mixed_dtype_params(const std::string& kernel) {
  if (kernel == "fused_linear_dpo") return {{"input_grad", "true"}};
  return {{"bias", "true"}};
}

const std::vector<std::string> kPreferenceKernels = {"fused_linear_cpo", "fused_linear_dpo", "fused_linear_orpo",
                                                     "fused_linear_simpo"};

// (kernel, device, dtype)
using Param = std::tuple<std::string, std::string, at::ScalarType>;

class FusedLinearPreferenceTest : public ::testing::TestWithParam<Param> {};

TEST_P(FusedLinearPreferenceTest, MatchesFloat64) {
  const auto& [kernel, device, dtype] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device);
  expect_options_match(spec_of(kernel), device, dtype, options_of(kernel));
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [kernel, device, dtype] = info.param;
  return kernel + "_" + preference_param_name({PreferenceParam{device, dtype}, info.index});
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedLinearPreferenceTest,
                         ::testing::Combine(::testing::ValuesIn(kPreferenceKernels), ::testing::Values("cpu", "cuda"),
                                            ::testing::ValuesIn(preference_dtypes())),
                         param_name);

class FusedLinearPreferenceMixedDtypes : public ::testing::TestWithParam<std::string> {};

TEST_P(FusedLinearPreferenceMixedDtypes, MatchFloat64) {
  expect_mixed_dtypes_match(spec_of(GetParam()), mixed_dtype_params(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Kernels, FusedLinearPreferenceMixedDtypes, ::testing::ValuesIn(kPreferenceKernels),
                         string_param_name);

}  // namespace
