#pragma once
// Argument checks shared by the RoPE CPU and CUDA bindings.
#include <ATen/ATen.h>

namespace liger::detail {

// q/k (or their gradients): (B, heads, T, D), floating point, D even.
inline void check_rope_tensor(const char* op, const char* name, const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, op, ": ", name, " must be (batch, heads, seq_len, head_dim), got shape ", x.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), op, ": ", name, " must be floating point, got ", x.scalar_type());
  TORCH_CHECK(x.size(3) % 2 == 0, op, ": head_dim must be even (the two halves of each head are rotated together), got ",
              x.size(3));
}

// cos and sin are (1 or B, T, D) for x (B, heads, T, D), floating point, on x's device.
inline void check_rope_cos(const char* op, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  TORCH_CHECK(cos.sizes() == sin.sizes(), op, ": cos and sin must have the same shape, got ", cos.sizes(), " and ",
              sin.sizes());
  TORCH_CHECK(cos.scalar_type() == sin.scalar_type(), op, ": cos and sin must have the same dtype, got ",
              cos.scalar_type(), " and ", sin.scalar_type());
  TORCH_CHECK(at::isFloatingType(cos.scalar_type()), op, ": cos and sin must be floating point, got ",
              cos.scalar_type());
  const int64_t B = x.size(0), T = x.size(2), D = x.size(3);
  TORCH_CHECK(cos.dim() == 3 && (cos.size(0) == 1 || cos.size(0) == B) && cos.size(1) == T && cos.size(2) == D, op,
              ": cos and sin must be (1 or batch, seq_len, head_dim) = (1 or ", B, ", ", T, ", ", D, "), got ",
              cos.sizes());
  TORCH_CHECK(cos.device() == x.device() && sin.device() == x.device(), op, ": cos and sin are on ", cos.device(),
              " and ", sin.device(), " but the rotated tensors are on ", x.device());
}

// q and k agree on everything but the head count (GQA).
inline void check_rope_pair(const char* op, const char* qn, const at::Tensor& q, const char* kn, const at::Tensor& k) {
  TORCH_CHECK(q.size(0) == k.size(0) && q.size(2) == k.size(2) && q.size(3) == k.size(3), op, ": ", qn, " and ", kn,
              " must have the same batch, seq_len and head_dim, got ", q.sizes(), " and ", k.sizes());
  TORCH_CHECK(q.scalar_type() == k.scalar_type(), op, ": ", qn, " and ", kn, " must have the same dtype, got ",
              q.scalar_type(), " and ", k.scalar_type());
  TORCH_CHECK(q.device() == k.device(), op, ": ", qn, " is on ", q.device(), " but ", kn, " is on ", k.device());
}

inline void check_rope_inputs(const char* op, const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                              const at::Tensor& sin) {
  check_rope_tensor(op, "q", q);
  check_rope_tensor(op, "k", k);
  check_rope_pair(op, "q", q, "k", k);
  check_rope_cos(op, q, cos, sin);
}

// The backward's gradients: either may be absent (an output nobody used), not both.
inline void check_rope_grads(const char* op, const c10::optional<at::Tensor>& gq, const c10::optional<at::Tensor>& gk,
                             const at::Tensor& cos, const at::Tensor& sin) {
  const bool has_q = gq && gq->defined(), has_k = gk && gk->defined();
  TORCH_CHECK(has_q || has_k, op, ": needs at least one of grad_q and grad_k");
  if (has_q) check_rope_tensor(op, "grad_q", *gq);
  if (has_k) check_rope_tensor(op, "grad_k", *gk);
  if (has_q && has_k) check_rope_pair(op, "grad_q", *gq, "grad_k", *gk);
  check_rope_cos(op, has_q ? *gq : *gk, cos, sin);
}

// x itself when its last dim is contiguous (the kernels take any other strides), else a copy.
inline at::Tensor last_dim_contiguous(const at::Tensor& x) { return x.stride(-1) == 1 ? x : x.contiguous(); }

}  // namespace liger::detail
