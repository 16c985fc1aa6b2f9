#pragma once
// Fused linear SimPO loss (KERNELS.md section 14): the LM head and the SimPO loss, chunked over the
// batch as the other alignment losses (fused_linear_preference.h). Sequence log-probs are averaged per
// token (length normalisation, fixed); z = beta (c - r) - gamma:
//   loss = alpha * NLL(chosen) + mean_pairs[-(1 - ls) logsigmoid(z) - ls logsigmoid(-z)].
// compute_nll_loss defaults to false here, as Liger's function; its module defaults to true.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include "liger/fused_linear_preference.h"

namespace liger {

PreferenceLossOutput fused_linear_simpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                        const c10::optional<at::Tensor>& bias = c10::nullopt,
                                        int64_t ignore_index = -100, double beta = 0.1, double alpha = 1.0,
                                        double label_smoothing = 0.0, bool compute_nll_loss = false,
                                        double gamma = 0.5, int64_t chunk_size = 1);

// The forward half (as fused_linear_cpo_forward): ignore_index, beta, alpha, label_smoothing,
// compute_nll_loss, gamma, chunk_size.
PreferenceForwardFn<int64_t, double, double, double, bool, double, int64_t> fused_linear_simpo_forward;

}  // namespace liger
