#pragma once
// RMSNorm (KERNELS.md section 1): y = x * rstd * (offset + w), rstd = 1/sqrt(mean(x^2) + eps).
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>
#include <tuple>

namespace liger {

// Differentiable RMSNorm over the last dim. casting_mode: "llama", "gemma" or "none".
// With in_place, the backward writes dX into the incoming gradient's buffer (as Liger does).
at::Tensor rms_norm(const at::Tensor& input, const c10::optional<at::Tensor>& weight, double eps = 1e-6,
                    double offset = 0.0, const std::string& casting_mode = "llama", bool in_place = true);

// The two halves the autograd function calls: (y, rstd) and (grad_input, grad_weight).
std::tuple<at::Tensor, at::Tensor> rms_norm_forward(const at::Tensor& input,
                                                    const c10::optional<at::Tensor>& weight, double eps,
                                                    double offset, const std::string& casting_mode);
std::tuple<at::Tensor, at::Tensor> rms_norm_backward(const at::Tensor& grad_out, const at::Tensor& input,
                                                     const c10::optional<at::Tensor>& weight,
                                                     const at::Tensor& rstd, double offset,
                                                     const std::string& casting_mode, bool in_place,
                                                     bool weight_grad);

}  // namespace liger
