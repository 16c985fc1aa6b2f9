#pragma once
// What the alignment losses (KERNELS.md sections 11-14: liger::fused_linear_cpo, _dpo, _orpo,
// _simpo) return: Liger's (loss, aux) pair with the aux tuple's entries named. Every tensor is
// float32 (float64 for float64 inputs); only `loss` carries a gradient.
#include <ATen/core/Tensor.h>

#include <vector>

namespace liger {

struct PreferenceLossOutput {
  at::Tensor loss;                  // scalar: alpha * nll_loss + the preference loss
  at::Tensor chosen_logps;          // (B/2,) log-prob of each chosen sequence (sum, or mean per token)
  at::Tensor rejected_logps;        // (B/2,)
  at::Tensor chosen_logits_mean;    // scalar: sum of the chosen half's logits / (B/2 * T * V)
  at::Tensor rejected_logits_mean;  // scalar
  at::Tensor nll_loss;              // scalar NLL of the chosen half (before alpha); 0 when not computed
  at::Tensor chosen_rewards;        // (B/2,) beta * chosen_logps (DPO: minus the reference's)
  at::Tensor rejected_rewards;      // (B/2,)
  at::Tensor log_odds_ratio;        // ORPO only: mean of logsigmoid(log odds); undefined otherwise
  at::Tensor log_odds_chosen;       // ORPO only: mean log odds
};

// Names the operator's (loss, aux) result; aux holds the fields above in their order (Liger's aux
// tuple).
PreferenceLossOutput preference_loss_output(const at::Tensor& loss, const std::vector<at::Tensor>& aux);

}  // namespace liger
