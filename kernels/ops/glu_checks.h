#pragma once
// Argument checks and buffer choices shared by the SwiGLU/GeGLU CPU and CUDA bindings.
#include <ATen/ATen.h>

#include <utility>

namespace liger::detail {

inline void check_glu_inputs(const char* op, const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.sizes() == b.sizes(), op, ": a and b must have the same shape, got ", a.sizes(), " and ", b.sizes());
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), op, ": a and b must have the same dtype, got ", a.scalar_type(),
              " and ", b.scalar_type());
  TORCH_CHECK(at::isFloatingType(a.scalar_type()), op, ": a and b must be floating point, got ", a.scalar_type());
  TORCH_CHECK(a.device() == b.device(), op, ": a is on ", a.device(), " but b is on ", b.device());
}

inline void check_glu_grad(const char* op, const at::Tensor& grad_out, const at::Tensor& a) {
  TORCH_CHECK(grad_out.sizes() == a.sizes(), op, ": grad_out has shape ", grad_out.sizes(), " but a has shape ",
              a.sizes());
  TORCH_CHECK(grad_out.device() == a.device(), op, ": grad_out is on ", grad_out.device(), " but a is on ",
              a.device());
}

inline bool overlap(const at::Tensor& x, const at::Tensor& y) {
  const auto* xb = static_cast<const char*>(x.data_ptr());
  const auto* yb = static_cast<const char*>(y.data_ptr());
  return xb < yb + y.nbytes() && yb < xb + x.nbytes();
}

// Buffers for (grad_a, grad_b). With in_place (Liger's behaviour) they are a's and b's own memory,
// which the backward overwrites; that needs a and b contiguous (the kernels read a.contiguous())
// and disjoint. Otherwise fresh tensors.
inline std::pair<at::Tensor, at::Tensor> glu_grad_buffers(const at::Tensor& a, const at::Tensor& b, bool in_place) {
  const bool reuse = in_place && a.numel() > 0 && a.is_contiguous() && b.is_contiguous() && !overlap(a, b);
  if (reuse) return {a.detach(), b.detach()};
  return {at::empty_like(a, at::MemoryFormat::Contiguous), at::empty_like(b, at::MemoryFormat::Contiguous)};
}

}  // namespace liger::detail
