#pragma once
// What the alignment losses (KERNELS.md sections 11-14: liger::fused_linear_cpo, _dpo, _orpo,
// _simpo) share in their C++ API. Each runs the LM head and its preference loss chunked over the
// batch (chosen rows [0, B/2), rejected rows [B/2, B); chunk k holds pair piece k of both halves),
// so only one chunk's logits exist. The gradients of input, weight and bias (each iff it requires
// grad) are computed in the forward; backward rescales them by the upstream scalar. Each returns
// Liger's (loss, aux) pair with the aux tuple's entries named (PreferenceLossOutput): every tensor
// is float32 (float64 for float64 inputs); only `loss` carries a gradient.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <array>
#include <tuple>
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

// What each loss's forward half (fused_linear_<m>_forward) returns: (loss, aux, grad_input,
// grad_weight, grad_bias), each gradient undefined unless its grad_mask entry asked for it.
using PreferenceForwardTuple = std::tuple<at::Tensor, std::vector<at::Tensor>, at::Tensor, at::Tensor, at::Tensor>;

// The forward half of a loss whose own arguments have the types Options...: the loss's arguments
// in its order, without defaults, then grad_mask (input, weight, bias). Every loss's forward
// operator has this signature (PreferenceLoss, kernels/ops/fused_linear_preference.h); CPO's and
// SimPO's C++ forward halves, whose options are all scalars, are declared as one.
template <typename... Options>
using PreferenceForwardFn = PreferenceForwardTuple(const at::Tensor& input, const at::Tensor& weight,
                                                   const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                                                   Options... options, std::array<bool, 3> grad_mask);

}  // namespace liger
