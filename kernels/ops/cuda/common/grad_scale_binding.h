#pragma once
// The CUDA backward of the losses whose forward stores the whole gradient (JSD, fused linear
// JSD): the stored gradient times the upstream scalar gradient, read on the device (no host
// synchronisation, CUDA-graph safe), into a new tensor so that the saved one stays valid when
// the graph is retained and backward runs again.
#include "cuda_binding.h"
#include "grad_scale_launch.h"

namespace liger::cuda {

inline at::Tensor scaled_by_upstream(const at::Tensor& grad, const at::Tensor& grad_out, const char* op) {
  TORCH_CHECK(grad_out.numel() == 1, op, ": grad_out must be a scalar, got shape ", grad_out.sizes());
  TORCH_CHECK(grad_out.device() == grad.device(), op, ": grad_out is on ", grad_out.device(), " but the gradient is on ",
              grad.device());
  const c10::cuda::CUDAGuard guard(grad.device());
  const at::Tensor g = grad_out.reshape({}).to(at::kFloat);
  const at::Tensor in = grad.contiguous();
  at::Tensor out = at::empty_like(in);
  GradScaleArgs a{};
  a.in = in.data_ptr();
  a.out = out.data_ptr();
  a.scale = g.data_ptr<float>();
  a.n = in.numel();
  a.dtype = dtype_of(in, op, "the stored gradient");
  check_launch(grad_scale(a, at::cuda::getCurrentCUDAStream()), op);
  return out;
}

}  // namespace liger::cuda
