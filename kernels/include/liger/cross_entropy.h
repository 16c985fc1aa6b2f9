#pragma once
// CrossEntropy (KERNELS.md section 6): Liger's cross entropy over (BT, V) logits with
// ignore_index, label smoothing, z-loss, soft-capping, class weights and token accuracy.
//
// Memory trick (as Liger): when `input` requires grad, the forward pass computes d(loss)/d(input)
// and writes it INTO `input`'s memory; the caller's logits are gone after the call (their version
// counter is bumped, so autograd reports any other use of them). Backward only multiplies that
// buffer by the upstream gradient, in place for a scalar loss (skipped when it is exactly 1), into
// a new tensor for reduction="none". Inference (no grad) leaves `input` untouched.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>
#include <tuple>

namespace liger {

// What Liger's CrossEntropyOutput record holds; a field not requested is an undefined tensor.
struct CrossEntropyOutput {
  at::Tensor loss;              // input dtype (CE) / float32 (FLCE): scalar, or (BT,) for "none"
  at::Tensor z_loss;            // input dtype; sum of s*lse^2 (already included in loss), for logging
  at::Tensor token_accuracy;    // float32: fraction of non-ignored rows whose argmax is the target
  at::Tensor predicted_tokens;  // int64 (BT,): argmax per row, -1 for ignored rows
};

// Liger's functional form (liger_cross_entropy), without the legacy size_average/reduce arguments.
CrossEntropyOutput liger_cross_entropy(const at::Tensor& input, const at::Tensor& target,
                                       const c10::optional<at::Tensor>& weight = c10::nullopt,
                                       int64_t ignore_index = -100, const std::string& reduction = "mean",
                                       double label_smoothing = 0.0, double lse_square_scale = 0.0,
                                       c10::optional<double> softcap = c10::nullopt, bool return_z_loss = false,
                                       bool return_token_accuracy = false, bool return_predicted_tokens = false);

// The differentiable operator liger::cross_entropy (argument order of LigerCrossEntropyLoss).
// Returns (loss, z_loss, token_accuracy, predicted_tokens); unrequested outputs are undefined.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> cross_entropy(
    const at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight = c10::nullopt,
    int64_t ignore_index = -100, double lse_square_scale = 0.0, double label_smoothing = 0.0,
    const std::string& reduction = "mean", c10::optional<double> softcap = c10::nullopt, bool return_z_loss = false,
    bool return_token_accuracy = false, bool return_predicted_tokens = false);

// The pieces the autograd functions (and chunked callers) use.

// float64 (4,): N non-ignored rows, the sum of weight[target] over them, the sum of all weights,
// the first bad row (see CrossEntropyStat). Checks every target: one out of [0, num_classes) that
// is not ignore_index raises an error naming it (on CUDA: one value read back, one sync). With
// defer_check, CUDA leaves the check to the caller (detail::DeferredTargetCheck), which can queue
// its work first; the row kernel treats bad targets as ignored meanwhile.
at::Tensor cross_entropy_target_stats(const at::Tensor& target, const c10::optional<at::Tensor>& weight,
                                      int64_t ignore_index, int64_t num_classes, bool defer_check = false);

// The row kernel. Per-row (loss, z_loss, token_accuracy, predicted_tokens): loss and z_loss in
// float32 (float64 for float64 input), divided by the batch normalisers of `stats` for "mean".
// With compute_grad, `input` is overwritten with d(sum of row losses)/d(input), each row scaled by
// grad_scale[row] when given (float32 (rows,)) and by p_y with use_token_scaling.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> cross_entropy_forward(
    at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight, const at::Tensor& stats,
    int64_t ignore_index, double lse_square_scale, double label_smoothing, const std::string& reduction,
    c10::optional<double> softcap, bool compute_grad, bool use_token_scaling,
    const c10::optional<at::Tensor>& grad_scale, bool return_z_loss, bool return_token_accuracy,
    bool return_predicted_tokens);

// Multiplies gradients stored by a forward pass by the upstream scalar, in place. `applied_scale`
// (float64 scalar, 1 after the forward) records what the buffers were last multiplied by, so a
// second backward through a retained graph rescales by grad_output / applied_scale and is exact
// (after an upstream gradient of exactly 0 the buffers are zero for good: a later nonzero one gives
// NaN rather than a silently wrong gradient). Skipped, on the device and without a sync, when that
// ratio is exactly 1.
void rescale_stored_grads_(at::TensorList grads, const at::Tensor& grad_output, at::Tensor& applied_scale);

}  // namespace liger
