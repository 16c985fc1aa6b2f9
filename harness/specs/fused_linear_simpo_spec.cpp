// fused_linear_simpo: KERNELS.md section 14. Baseline and reference: the unfused composition
// (preference_common.h).
#include "liger/fused_linear_simpo.h"

#include "preference_common.h"
#include "specs.h"

namespace ligerbench::specs {

KernelSpec fused_linear_simpo() {
  KernelSpec s = preference_spec(PreferenceKind::kSimPO, "fused_linear_simpo",
                                 "SimPO loss of input @ weight^T + bias, chunked over chosen/rejected pairs",
                                 "liger::fused_linear_simpo_forward");
  s.liger = [](const KernelInputs& in, const CaseConfig& c) {
    const PreferenceInputs p = unpack_preference(in);
    return preference_outputs(liger::fused_linear_simpo(
        p.input, p.weight, p.target, optional_tensor(p.bias), preference_ignore_index(c), c.param_double("beta"),
        c.param_double("alpha"), c.param_double("label_smoothing"), c.param_bool("compute_nll_loss"),
        c.param_double("gamma"), std::stoll(c.param("chunk_size"))));
  };
  return s;
}

}  // namespace ligerbench::specs
