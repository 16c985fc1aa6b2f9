#pragma once
// Fused linear DPO loss (KERNELS.md section 12): the LM head and the DPO preference loss, chunked
// over the batch as the other alignment losses (fused_linear_preference.h). With c, r the policy's and rc,
// rr the reference model's chosen/rejected sequence log-probs (0 without a reference model),
// cl = c - rc, rl = r - rr, z = beta (cl - rl): loss = alpha * NLL + mean_pairs[l(z, cl, rl)] for
// the loss_type's l (sigmoid: -logsigmoid(z); hinge, exo_pair, nca_pair, robust, bco_pair,
// sppo_hard, apo_zero, apo_down, discopop). The reference model is given as hidden states + lm_head
// (ref_input (B, T, H_ref), ref_weight (V, H_ref), ref_bias), run chunk by chunk without gradient,
// or as precomputed log-probs (ref_chosen_logps, ref_rejected_logps, (B/2,) each; our addition).
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <c10/util/string_view.h>

#include <array>
#include <string>

#include "liger/fused_linear_preference.h"

namespace liger {

PreferenceLossOutput fused_linear_dpo(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
    const c10::optional<at::Tensor>& bias = c10::nullopt, const c10::optional<at::Tensor>& ref_input = c10::nullopt,
    const c10::optional<at::Tensor>& ref_weight = c10::nullopt,
    const c10::optional<at::Tensor>& ref_bias = c10::nullopt,
    const c10::optional<at::Tensor>& ref_chosen_logps = c10::nullopt,
    const c10::optional<at::Tensor>& ref_rejected_logps = c10::nullopt, int64_t ignore_index = -100,
    double beta = 0.1, double alpha = 1.0, bool compute_nll_loss = false, bool use_ref_model = true,
    bool average_log_prob = false, int64_t chunk_size = 1, const std::string& loss_type = "sigmoid",
    double label_smoothing = 0.0, double discopop_tau = 0.05);

PreferenceForwardTuple fused_linear_dpo_forward(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target, const c10::optional<at::Tensor>& bias,
    const c10::optional<at::Tensor>& ref_input, const c10::optional<at::Tensor>& ref_weight,
    const c10::optional<at::Tensor>& ref_bias, const c10::optional<at::Tensor>& ref_chosen_logps,
    const c10::optional<at::Tensor>& ref_rejected_logps, int64_t ignore_index, double beta, double alpha,
    bool compute_nll_loss, bool use_ref_model, bool average_log_prob, int64_t chunk_size, c10::string_view loss_type,
    double label_smoothing, double discopop_tau, std::array<bool, 3> grad_mask);

}  // namespace liger
