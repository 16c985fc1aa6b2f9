#pragma once
// Fused linear ORPO loss (KERNELS.md section 13): the LM head and the ORPO odds-ratio loss, chunked
// over the batch as the other alignment losses (fused_linear_preference.h). Sequence log-probs are
// averaged per token (fixed) and alpha is 1: with
//   log_odds = (c - r) - (log1p(-exp c) - log1p(-exp r)),
//   loss = NLL(chosen; nll_target, default target) - beta * mean_pairs[logsigmoid(log_odds)].
// aux adds log_odds_ratio = mean logsigmoid(log_odds) and log_odds_chosen = mean log_odds.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <array>

#include "liger/fused_linear_preference.h"

namespace liger {

PreferenceLossOutput fused_linear_orpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                       const c10::optional<at::Tensor>& bias = c10::nullopt,
                                       const c10::optional<at::Tensor>& nll_target = c10::nullopt,
                                       int64_t ignore_index = -100, double beta = 0.1, bool compute_nll_loss = true,
                                       int64_t chunk_size = 1);

PreferenceForwardTuple fused_linear_orpo_forward(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target, const c10::optional<at::Tensor>& bias,
    const c10::optional<at::Tensor>& nll_target, int64_t ignore_index, double beta, bool compute_nll_loss,
    int64_t chunk_size, std::array<bool, 3> grad_mask);

}  // namespace liger
