#pragma once
// Multi-token attention (KERNELS.md section 8; MTA paper arXiv:2504.00927, Liger's symmetric
// key-query convolution): on pre-softmax scores (B, C_in, L, L), row i = query, column j = key,
//   P   = softmax_j(S) (sparsemax_j with sparse), S = scores where j <= i, -1e9 elsewhere
//   O   = conv2d(P, weight, bias, stride, padding, dilation, groups)
//   out = O where j <= i (on O's own grid), 0 elsewhere.
// Masked entries of P are exactly 0 (the -1e9 fill's exp underflows, and sparsemax never
// reaches it). Row math in fp32 (float64 for float64 data), P rounded once to the data's dtype.
#include <ATen/core/Tensor.h>

#include <array>
#include <tuple>

namespace liger {

// Differentiable in scores, weight and bias. Any L that fits in memory (the row kernels stream a
// row at a time; Liger's masks stop at L = 1024). sparse works in every dtype.
at::Tensor multi_token_attention(const at::Tensor& scores, const at::Tensor& weight,
                                 const c10::optional<at::Tensor>& bias = c10::nullopt, int64_t stride = 1,
                                 int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1, bool sparse = false);

// Liger's functional name for the same operator.
at::Tensor liger_multi_token_attention(const at::Tensor& scores, const at::Tensor& weight,
                                       const c10::optional<at::Tensor>& bias = c10::nullopt, int64_t stride = 1,
                                       int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1,
                                       bool sparse = false);

// The halves the autograd function calls: (out, P), and (d_scores, d_weight, d_bias) for the
// gradients output_mask asks for (undefined otherwise).
std::tuple<at::Tensor, at::Tensor> multi_token_attention_forward(const at::Tensor& scores, const at::Tensor& weight,
                                                                 const c10::optional<at::Tensor>& bias, int64_t stride,
                                                                 int64_t padding, int64_t dilation, int64_t groups,
                                                                 bool sparse);
std::tuple<at::Tensor, at::Tensor, at::Tensor> multi_token_attention_backward(
    const at::Tensor& grad_out, const at::Tensor& probs, const at::Tensor& weight, bool has_bias, int64_t stride,
    int64_t padding, int64_t dilation, int64_t groups, bool sparse, std::array<bool, 3> output_mask);

// The row operators (CPU and CUDA kernels): P from contiguous scores, and the score gradient
// written over grad_probs (dS = P (dP - sum_j dP P), or sparsemax's dP - mean over P > 0; 0 for j > i).
at::Tensor multi_token_attention_probs(const at::Tensor& scores, bool sparse);
at::Tensor& multi_token_attention_probs_backward_(at::Tensor& grad_probs, const at::Tensor& probs, bool sparse);

}  // namespace liger
