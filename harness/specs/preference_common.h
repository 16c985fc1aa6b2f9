#pragma once
// What the four alignment-loss specs (KERNELS.md sections 11-14: fused_linear_cpo, _dpo, _orpo,
// _simpo) share: params, inputs, the unfused composition that is both the baseline (in the
// input dtype, log-softmax in fp32) and the float64 reference, the cost model and the spec's
// skeleton. Each <op>_spec.cpp only adds its Liger call.
#include <string>
#include <utility>
#include <vector>

#include "ligerbench/kernel_spec.h"

namespace ligerbench::specs {

enum class PreferenceKind { kCPO, kDPO, kORPO, kSimPO };

// Inputs, by name: input (B, T, H), weight (V, H), target (B, T), then optionally bias (V,);
// DPO with a reference model: ref_input (B, T, H), ref_weight (V, H), ref_bias (with bias);
// ORPO with nll_target=true: nll_target (B, T).
struct PreferenceInputs {
  at::Tensor input, weight, target, bias, ref_input, ref_weight, ref_bias, nll_target;
};
PreferenceInputs unpack_preference(const KernelInputs& in);

int64_t preference_ignore_index(const CaseConfig& c);

// The unfused computation as TRL / Liger's test reference writes it: full (B, T, V) logits in the
// input dtype, log_softmax in `compute` (fp32 for the baseline, fp64 for the reference), gather,
// the loss formula. Returns {loss, chosen_logps, rejected_logps, chosen_logits_mean,
// rejected_logits_mean, nll_loss, chosen_rewards, rejected_rewards[, log_odds_ratio,
// log_odds_chosen]}, everything but the loss detached.
std::vector<at::Tensor> preference_composition(const KernelInputs& in, const CaseConfig& c, PreferenceKind kind,
                                               at::ScalarType compute);

// The spec with everything but the Liger call filled in; its ops are `forward_op` (the chunked
// forward that computes the loss and stores the gradients) and the rescale of those gradients.
KernelSpec preference_spec(PreferenceKind kind, std::string name, std::string description,
                           const std::string& forward_op);

// The outputs as the runner compares them: the loss, then the aux outputs every alignment loss
// returns, then `extra` (ORPO's log-odds).
template <typename LigerOutput>
std::vector<at::Tensor> preference_outputs(const LigerOutput& o, const std::vector<at::Tensor>& extra = {}) {
  std::vector<at::Tensor> out = {o.loss,
                                 o.chosen_logps,
                                 o.rejected_logps,
                                 o.chosen_logits_mean,
                                 o.rejected_logits_mean,
                                 o.nll_loss,
                                 o.chosen_rewards,
                                 o.rejected_rewards};
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

}  // namespace ligerbench::specs
