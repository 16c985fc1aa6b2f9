#pragma once
// rope_forward and rope_backward for one device, from that device's rotation routine. The checks,
// the layouts (last dim contiguous) and the output buffers are the same on CPU and CUDA; only the
// rotation differs (cpu/rope_kernel.cpp, cuda/rope_cuda.cpp).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "common/op_registration.h"
#include "rope_checks.h"

namespace liger::detail {

// `Rotate(q, q_out, k, k_out, cos, sin, inverse)` rotates q and k (either may be undefined) into
// the outputs, by -theta when `inverse` (the backward: the rotation's transpose).
template <auto Rotate>
std::tuple<at::Tensor, at::Tensor> rope_forward_with(const at::Tensor& q_in, const at::Tensor& k_in,
                                                     const at::Tensor& cos, const at::Tensor& sin) {
  check_rope_inputs("liger::rope", q_in, k_in, cos, sin);
  const at::Tensor q = last_dim_contiguous(q_in), k = last_dim_contiguous(k_in);
  at::Tensor q_out = at::empty_like(q), k_out = at::empty_like(k);
  Rotate(q, q_out, k, k_out, cos, sin, /*inverse=*/false);
  return {q_out, k_out};
}

template <auto Rotate>
std::tuple<at::Tensor, at::Tensor> rope_backward_with(const c10::optional<at::Tensor>& grad_q,
                                                      const c10::optional<at::Tensor>& grad_k, const at::Tensor& cos,
                                                      const at::Tensor& sin) {
  check_rope_grads("liger::rope_backward", grad_q, grad_k, cos, sin);
  at::Tensor gq, gk, dq, dk;
  if (grad_q && grad_q->defined()) {
    gq = last_dim_contiguous(*grad_q);
    dq = at::empty_like(gq);
  }
  if (grad_k && grad_k->defined()) {
    gk = last_dim_contiguous(*grad_k);
    dk = at::empty_like(gk);
  }
  Rotate(gq, dq, gk, dk, cos, sin, /*inverse=*/true);
  return {dq, dk};
}

// A device's rope_forward and rope_backward kernels, in its TORCH_LIBRARY_IMPL block.
template <auto Rotate>
void impl_rope(torch::Library& m) {
  impl_forward_backward<rope_forward_with<Rotate>, rope_backward_with<Rotate>>(m, "rope");
}

}  // namespace liger::detail
