#pragma once
// GeGLU's elementwise op (KERNELS.md section 5): c = gelu_tanh(a) * b, GELU in its tanh
// approximation computed in fp32 and rounded to b's dtype before the product.
#include <ATen/core/Tensor.h>

#include <tuple>

namespace liger {

// Differentiable; the backward recomputes from a and b. in_place: as liger::swiglu (grad_a and
// grad_b written into a's and b's memory when a and b are non-leaf, contiguous and disjoint).
at::Tensor geglu(const at::Tensor& a, const at::Tensor& b, bool in_place = true);

// Liger's functional name: liger_geglu(a, b) == LigerGELUMulFunction.apply(a, b).
at::Tensor liger_geglu(const at::Tensor& a, const at::Tensor& b);

at::Tensor geglu_forward(const at::Tensor& a, const at::Tensor& b);
std::tuple<at::Tensor, at::Tensor> geglu_backward(const at::Tensor& grad_out, const at::Tensor& a, const at::Tensor& b,
                                                  bool in_place);

}  // namespace liger
