#pragma once
// Fused linear SimPO loss (KERNELS.md section 14): the LM head and the SimPO loss, chunked over the
// batch as the other alignment losses (fused_linear_cpo.h). Sequence log-probs are averaged per
// token (length normalisation, fixed); z = beta (c - r) - gamma:
//   loss = alpha * NLL(chosen) + mean_pairs[-(1 - ls) logsigmoid(z) - ls logsigmoid(-z)].
// compute_nll_loss defaults to false here, as Liger's function; its module defaults to true.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <array>
#include <tuple>
#include <vector>

#include "liger/fused_linear_preference.h"

namespace liger {

PreferenceLossOutput fused_linear_simpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                        const c10::optional<at::Tensor>& bias = c10::nullopt,
                                        int64_t ignore_index = -100, double beta = 0.1, double alpha = 1.0,
                                        double label_smoothing = 0.0, bool compute_nll_loss = false,
                                        double gamma = 0.5, int64_t chunk_size = 1);

std::tuple<at::Tensor, std::vector<at::Tensor>, at::Tensor, at::Tensor, at::Tensor> fused_linear_simpo_forward(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target, const c10::optional<at::Tensor>& bias,
    int64_t ignore_index, double beta, double alpha, double label_smoothing, bool compute_nll_loss, double gamma,
    int64_t chunk_size, std::array<bool, 3> grad_mask);

}  // namespace liger
