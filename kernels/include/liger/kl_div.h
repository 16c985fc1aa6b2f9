#pragma once
// KL divergence (KERNELS.md section 15): KL(y_true || exp(y_pred)) with nn.KLDivLoss's reductions.
#include <ATen/core/Tensor.h>

#include <string>

namespace liger {

// Differentiable KL divergence loss; the gradient flows to y_pred only (never to y_true).
// y_pred: (BT, V) log-probabilities; y_true: (BT, V) probabilities, or log-probabilities with
// log_target. reduction: "batchmean" (sum / BT), "sum", "mean" (sum / (BT * V)) or "none".
// Output float32 (float64 for float64 inputs): a scalar, or (BT, V) for "none".
// Defaults as Liger's liger_kl_div / LigerKLDIVLoss (reduction "mean", like nn.KLDivLoss).
at::Tensor kl_div(const at::Tensor& y_pred, const at::Tensor& y_true, const std::string& reduction = "mean",
                  bool log_target = false, double eps = 1e-10);

// The two halves the autograd function calls. The backward needs only y_true (the gradient is
// -y_true, or -exp(y_true), scaled) and returns the gradient in grad_dtype (y_pred's dtype).
at::Tensor kl_div_forward(const at::Tensor& y_pred, const at::Tensor& y_true, const std::string& reduction,
                          bool log_target, double eps);
at::Tensor kl_div_backward(const at::Tensor& grad_out, const at::Tensor& y_true, const std::string& reduction,
                           bool log_target, at::ScalarType grad_dtype);

}  // namespace liger
