// fused_linear_cpo: KERNELS.md section 11. Baseline and reference: the unfused composition
// (preference_common.h).
#include "liger/fused_linear_cpo.h"

#include "preference_common.h"
#include "specs.h"

namespace ligerbench::specs {

KernelSpec fused_linear_cpo() {
  KernelSpec s = preference_spec(PreferenceKind::kCPO, "fused_linear_cpo",
                                 "CPO loss of input @ weight^T + bias, chunked over chosen/rejected pairs",
                                 "liger::fused_linear_cpo_forward");
  s.liger = [](const KernelInputs& in, const CaseConfig& c) {
    const PreferenceInputs p = unpack_preference(in);
    return preference_outputs(liger::fused_linear_cpo(
        p.input, p.weight, p.target, optional_tensor(p.bias), preference_ignore_index(c), c.param_double("beta"),
        c.param_double("alpha"), c.param_double("label_smoothing"), c.param_bool("compute_nll_loss"),
        c.param_bool("average_log_prob"), std::stoll(c.param("chunk_size"))));
  };
  return s;
}

}  // namespace ligerbench::specs
