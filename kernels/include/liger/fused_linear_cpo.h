#pragma once
// Fused linear CPO loss (KERNELS.md section 11): the LM head and the CPO preference loss, chunked
// over the batch as the other alignment losses (fused_linear_preference.h). With c, r the
// chosen/rejected sequence log-probs (summed over valid tokens, or averaged with average_log_prob)
// and z = beta (c - r):
//   loss = alpha * NLL(chosen) + mean_pairs[-(1 - ls) logsigmoid(z) - ls logsigmoid(-z)].
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include "liger/fused_linear_preference.h"

namespace liger {

// input (B, T, H), weight (V, H), target (B, T), bias (V,); Liger's functional argument order.
// chunk_size: sequences of each half per chunk.
PreferenceLossOutput fused_linear_cpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const c10::optional<at::Tensor>& bias = c10::nullopt,
                                      int64_t ignore_index = -100, double beta = 0.1, double alpha = 1.0,
                                      double label_smoothing = 0.0, bool compute_nll_loss = true,
                                      bool average_log_prob = false, int64_t chunk_size = 1);

// The forward half: (loss, aux, grad_input, grad_weight, grad_bias) for the gradients in grad_mask;
// after bias, fused_linear_cpo's options in its order (ignore_index, beta, alpha, label_smoothing,
// compute_nll_loss, average_log_prob, chunk_size).
PreferenceForwardFn<int64_t, double, double, double, bool, bool, int64_t> fused_linear_cpo_forward;

}  // namespace liger
