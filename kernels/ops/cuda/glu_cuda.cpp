// Binds the SwiGLU/GeGLU CUDA launchers to the liger::{swiglu,geglu}_{forward,backward} operators.
#include <torch/library.h>

#include "../common/op_registration.h"
#include "../glu_checks.h"
#include "common/cuda_binding.h"
#include "glu_launch.h"

namespace liger {
namespace {

// The fields that the forward's and the backward's launch arguments share.
template <typename Args>
void set_elementwise(Args& args, const char* op, const at::Tensor& a, GluActivation act, double gm, double dm) {
  args.n = a.numel();
  args.dtype = cuda::dtype_of(a, op, "a");
  args.act = act;
  args.gate_multiplier = static_cast<float>(gm);
  args.down_multiplier = static_cast<float>(dm);
}

at::Tensor glu_forward_cuda(const char* op, GluActivation act, const at::Tensor& a_in, const at::Tensor& b_in,
                            double gm, double dm) {
  detail::check_glu_inputs(op, a_in, b_in);
  const c10::cuda::CUDAGuard guard(a_in.device());
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  at::Tensor c = at::empty_like(a);
  cuda::GluForwardArgs args{};
  args.a = a.data_ptr();
  args.b = b.data_ptr();
  args.c = c.data_ptr();
  set_elementwise(args, op, a, act, gm, dm);
  cuda::check_launch(cuda::glu_forward(args, at::cuda::getCurrentCUDAStream()), op);
  return c;
}

std::tuple<at::Tensor, at::Tensor> glu_backward_cuda(const char* op, GluActivation act, const at::Tensor& grad_out,
                                                     const at::Tensor& a_in, const at::Tensor& b_in, double gm,
                                                     double dm, bool in_place) {
  detail::check_glu_inputs(op, a_in, b_in);
  detail::check_glu_grad(op, grad_out, a_in);
  const c10::cuda::CUDAGuard guard(a_in.device());
  const at::Tensor dc = grad_out.to(a_in.scalar_type()).contiguous();
  auto [da, db] = detail::glu_grad_buffers(a_in, b_in, in_place);
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  cuda::GluBackwardArgs args{};
  args.grad_out = dc.data_ptr();
  args.a = a.data_ptr();
  args.b = b.data_ptr();
  args.grad_a = da.data_ptr();
  args.grad_b = db.data_ptr();
  set_elementwise(args, op, a, act, gm, dm);
  cuda::check_launch(cuda::glu_backward(args, at::cuda::getCurrentCUDAStream()), op);
  return {da.view(a_in.sizes()), db.view(b_in.sizes())};
}

at::Tensor swiglu_forward_cuda(const at::Tensor& a, const at::Tensor& b, double gm, double dm) {
  return glu_forward_cuda("liger::swiglu", GluActivation::kSiLU, a, b, gm, dm);
}
std::tuple<at::Tensor, at::Tensor> swiglu_backward_cuda(const at::Tensor& grad_out, const at::Tensor& a,
                                                        const at::Tensor& b, double gm, double dm, bool in_place) {
  return glu_backward_cuda("liger::swiglu_backward", GluActivation::kSiLU, grad_out, a, b, gm, dm, in_place);
}
at::Tensor geglu_forward_cuda(const at::Tensor& a, const at::Tensor& b) {
  return glu_forward_cuda("liger::geglu", GluActivation::kGeluTanh, a, b, 1.0, 1.0);
}
std::tuple<at::Tensor, at::Tensor> geglu_backward_cuda(const at::Tensor& grad_out, const at::Tensor& a,
                                                       const at::Tensor& b, bool in_place) {
  return glu_backward_cuda("liger::geglu_backward", GluActivation::kGeluTanh, grad_out, a, b, 1.0, 1.0, in_place);
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  detail::impl_forward_backward<swiglu_forward_cuda, swiglu_backward_cuda>(m, "swiglu");
  detail::impl_forward_backward<geglu_forward_cuda, geglu_backward_cuda>(m, "geglu");
}

}  // namespace liger
