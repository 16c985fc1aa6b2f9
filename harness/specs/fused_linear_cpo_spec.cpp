// fused_linear_cpo: KERNELS.md section 11. Baseline and reference: the unfused composition
// (preference_common.h).
#include "liger/fused_linear_cpo.h"

#include "preference_common.h"
#include "specs.h"

namespace ligerbench::specs {

KernelSpec fused_linear_cpo() {
  KernelSpec s = preference_spec(PreferenceKind::kCPO);
  s.name = "fused_linear_cpo";
  s.description = "CPO loss of input @ weight^T + bias, chunked over chosen/rejected pairs";
  s.ops = {"liger::fused_linear_cpo_forward", "liger::rescale_stored_grads_"};
  s.liger = [](const KernelInputs& in, const CaseConfig& c) {
    const PreferenceInputs p = unpack_preference(in);
    const auto o = liger::fused_linear_cpo(
        p.input, p.weight, p.target, p.bias.defined() ? c10::optional<at::Tensor>(p.bias) : c10::nullopt,
        preference_ignore_index(c), c.param_double("beta"), c.param_double("alpha"), c.param_double("label_smoothing"),
        c.param_bool("compute_nll_loss"), c.param_bool("average_log_prob"), std::stoll(c.param("chunk_size")));
    return loss_and_aux(o.loss, {o.chosen_logps, o.rejected_logps, o.chosen_logits_mean, o.rejected_logits_mean,
                                 o.nll_loss, o.chosen_rewards, o.rejected_rewards});
  };
  return s;
}

}  // namespace ligerbench::specs
