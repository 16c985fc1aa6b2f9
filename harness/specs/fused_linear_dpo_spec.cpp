// fused_linear_dpo: KERNELS.md section 12. Baseline and reference: the unfused composition
// (preference_common.h), the reference model's log-probs computed the same way without gradient.
#include "liger/fused_linear_dpo.h"

#include "preference_common.h"
#include "specs.h"

namespace ligerbench::specs {

KernelSpec fused_linear_dpo() {
  KernelSpec s = preference_spec(
      PreferenceKind::kDPO, "fused_linear_dpo",
      "DPO loss of input @ weight^T + bias against a reference model, chunked over chosen/rejected pairs",
      "liger::fused_linear_dpo_forward");
  s.axes[1].default_value = 512;  // Liger's DPO benchmark runs T 512
  s.liger = [](const KernelInputs& in, const CaseConfig& c) {
    const PreferenceInputs p = unpack_preference(in);
    return preference_outputs(liger::fused_linear_dpo(
        p.input, p.weight, p.target, optional_tensor(p.bias), optional_tensor(p.ref_input),
        optional_tensor(p.ref_weight), optional_tensor(p.ref_bias), c10::nullopt, c10::nullopt,
        preference_ignore_index(c), c.param_double("beta"), c.param_double("alpha"), c.param_bool("compute_nll_loss"),
        c.param_bool("use_ref_model"), c.param_bool("average_log_prob"), std::stoll(c.param("chunk_size")),
        c.param("loss_type"), c.param_double("label_smoothing"), c.param_double("discopop_tau")));
  };
  return s;
}

}  // namespace ligerbench::specs
