#pragma once
// Softmax over the last dim (KERNELS.md section 9): y = exp(x - max) / sum(exp(x - max)), with
// max, exp and sum in fp32 and y rounded once to x's dtype. Rows that are all -inf give NaN, as
// torch.softmax does.
#include <ATen/core/Tensor.h>

namespace liger {

// Differentiable; the backward saves y only: dx = y * (dy - sum(dy * y)).
at::Tensor softmax(const at::Tensor& input);

// The two halves the autograd function calls.
at::Tensor softmax_forward(const at::Tensor& input);
at::Tensor softmax_backward(const at::Tensor& grad_out, const at::Tensor& output);

}  // namespace liger
