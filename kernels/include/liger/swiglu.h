#pragma once
// SwiGLU's elementwise op (KERNELS.md section 4): c = silu(a * gate_multiplier) * b * down_multiplier,
// silu computed in fp32 and rounded to b's dtype before the product (as Liger and HF round it).
#include <ATen/core/Tensor.h>

#include <tuple>

namespace liger {

// Differentiable; the backward recomputes silu from a and b (nothing else is saved). With
// in_place (Liger's behaviour) the backward writes grad_a into a's memory and grad_b into b's,
// which is what lets an MLP drop two (tokens x intermediate) buffers. We do it only where that is
// safe: a and b computed by autograd-tracked ops (not leaves: a caller's own tensors are never
// overwritten), contiguous and disjoint. A second backward through the same graph is then wrong,
// as in Liger.
at::Tensor swiglu(const at::Tensor& a, const at::Tensor& b, double gate_multiplier = 1.0,
                  double down_multiplier = 1.0, bool in_place = true);

// Liger's functional name: liger_swiglu(a, b) == LigerSiLUMulFunction.apply(a, b).
at::Tensor liger_swiglu(const at::Tensor& a, const at::Tensor& b);

// The two halves the autograd function calls: c, and (grad_a, grad_b).
at::Tensor swiglu_forward(const at::Tensor& a, const at::Tensor& b, double gate_multiplier, double down_multiplier);
std::tuple<at::Tensor, at::Tensor> swiglu_backward(const at::Tensor& grad_out, const at::Tensor& a, const at::Tensor& b,
                                                   double gate_multiplier, double down_multiplier, bool in_place);

}  // namespace liger
