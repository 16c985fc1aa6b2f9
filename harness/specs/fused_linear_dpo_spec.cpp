// fused_linear_dpo: KERNELS.md section 12. Baseline and reference: the unfused composition
// (preference_common.h), the reference model's log-probs computed the same way without gradient.
#include "liger/fused_linear_dpo.h"

#include "preference_common.h"
#include "specs.h"

namespace ligerbench::specs {

KernelSpec fused_linear_dpo() {
  KernelSpec s = preference_spec(PreferenceKind::kDPO);
  s.name = "fused_linear_dpo";
  s.description = "DPO loss of input @ weight^T + bias against a reference model, chunked over chosen/rejected pairs";
  s.ops = {"liger::fused_linear_dpo_forward", "liger::rescale_stored_grads_"};
  s.axes[1].default_value = 512;  // Liger's DPO benchmark runs T 512
  s.liger = [](const KernelInputs& in, const CaseConfig& c) {
    const PreferenceInputs p = unpack_preference(in);
    auto opt = [](const at::Tensor& t) { return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt; };
    const auto o = liger::fused_linear_dpo(
        p.input, p.weight, p.target, opt(p.bias), opt(p.ref_input), opt(p.ref_weight), opt(p.ref_bias), c10::nullopt,
        c10::nullopt, preference_ignore_index(c), c.param_double("beta"), c.param_double("alpha"),
        c.param_bool("compute_nll_loss"), c.param_bool("use_ref_model"), c.param_bool("average_log_prob"),
        std::stoll(c.param("chunk_size")), c.param("loss_type"), c.param_double("label_smoothing"),
        c.param_double("discopop_tau"));
    return loss_and_aux(o.loss, {o.chosen_logps, o.rejected_logps, o.chosen_logits_mean, o.rejected_logits_mean,
                                 o.nll_loss, o.chosen_rewards, o.rejected_rewards});
  };
  return s;
}

}  // namespace ligerbench::specs
