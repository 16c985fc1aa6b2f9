#pragma once
// Sparsemax (KERNELS.md section 10): the Euclidean projection of each row onto the probability
// simplex, y = max(x - tau, 0) with tau chosen so that every row sums to 1. Math in fp32 (float64
// for float64 input), y rounded once to the input's dtype.
#include <ATen/core/Tensor.h>

namespace liger {

// Differentiable, along any dim (swapped with the last, processed, swapped back: for a dim other
// than the last the result is a transposed view, as Liger returns it). Backward:
// dx = dy - mean(dy over y > 0) on y > 0, 0 elsewhere.
at::Tensor sparsemax(const at::Tensor& input, int64_t dim = -1);

// The last-dim halves the autograd function calls.
at::Tensor sparsemax_forward(const at::Tensor& input);
at::Tensor sparsemax_backward(const at::Tensor& grad_out, const at::Tensor& output);

}  // namespace liger
