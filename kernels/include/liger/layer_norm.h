#pragma once
// LayerNorm (KERNELS.md section 2): y = (x - mean) * rstd * w + b over the last dim, with
// mean = mean(x), rstd = 1 / sqrt(mean((x - mean)^2) + eps) (biased variance), all in fp32 and y
// rounded once to x's dtype.
#include <ATen/core/Tensor.h>

#include <tuple>

namespace liger {

// Differentiable in input, weight and bias (Liger's LayerNorm always has both parameters).
at::Tensor layer_norm(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, double eps = 1e-6);

// The two halves the autograd function calls. The forward returns (y, mean, rstd); mean and rstd
// have input's leading shape and are kept in fp32 (float64 for float64 input), as PyTorch keeps
// them, where Liger rounds them to x's dtype. The backward returns (grad_input, grad_weight,
// grad_bias), the last two in weight's and bias's dtypes and undefined unless asked for.
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_forward(const at::Tensor& input, const at::Tensor& weight,
                                                                  const at::Tensor& bias, double eps);
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward(const at::Tensor& grad_out, const at::Tensor& input,
                                                                   const at::Tensor& weight, const at::Tensor& bias,
                                                                   const at::Tensor& mean, const at::Tensor& rstd,
                                                                   bool weight_grad, bool bias_grad);

}  // namespace liger
