// Binds the KL divergence CUDA launchers to the liger::kl_div_forward/backward operators.
#include <torch/library.h>

#include "../common/op_registration.h"
#include "../divergence_checks.h"
#include "common/cuda_binding.h"
#include "common/divergence_reduce.h"
#include "kl_div_launch.h"

namespace liger {
namespace {

// The kernels take y_true in the other tensor's dtype or in fp32: any other y_true is converted
// to fp32 (a copy).
at::Tensor target_for_kernel(const at::Tensor& y_true, at::ScalarType other) {
  const at::Tensor t = y_true.contiguous();
  return t.scalar_type() == other || t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

at::Tensor kl_div_forward_cuda(const at::Tensor& y_pred, const at::Tensor& y_true, c10::string_view reduction,
                               bool log_target, double eps) {
  constexpr const char* op = "liger::kl_div";
  detail::check_kl_inputs(y_pred, y_true);
  const KlReduction red = detail::parse_kl_reduction(std::string(reduction));
  const c10::cuda::CUDAGuard guard(y_pred.device());
  const at::Tensor pred = y_pred.contiguous();
  const cuda::DType pred_dtype = cuda::dtype_of(pred, op, "y_pred");
  const at::Tensor target = target_for_kernel(y_true, pred.scalar_type());
  const int64_t rows = pred.size(0), cols = pred.size(1), n = pred.numel();
  const bool elementwise = red == KlReduction::kNone;
  const auto out_opts = pred.options().dtype(at::kFloat);
  at::Tensor out = elementwise ? at::empty({rows, cols}, out_opts) : at::empty({}, out_opts);
  const double divisor = detail::kl_divisor(red, rows, cols);
  if (n == 0) {
    // As the CPU kernel and nn.KLDivLoss: a sum over nothing is 0, an average of nothing 0 / 0.
    if (!elementwise) out.fill_(0.0 / divisor);
    return out;
  }
  at::Tensor partials;
  if (!elementwise) partials = at::empty({cuda::reduce_partials_capacity()}, pred.options().dtype(at::kDouble));
  cuda::KlDivForwardArgs a{};
  a.y_pred = pred.data_ptr();
  a.y_true = target.data_ptr();
  a.out = out.data_ptr();
  a.partials = elementwise ? nullptr : partials.data_ptr<double>();
  a.n = n;
  a.pred_dtype = pred_dtype;
  a.true_dtype = cuda::dtype_of(target, op, "y_true");
  a.log_target = log_target;
  a.eps = static_cast<float>(eps);
  a.elementwise = elementwise;
  a.scale = 1.0 / divisor;
  cuda::check_launch(cuda::kl_div_forward(a, at::cuda::getCurrentCUDAStream()), op);
  return out;
}

at::Tensor kl_div_backward_cuda(const at::Tensor& grad_out, const at::Tensor& y_true, c10::string_view reduction,
                                bool log_target, at::ScalarType grad_dtype) {
  constexpr const char* op = "liger::kl_div_backward";
  const KlReduction red = detail::parse_kl_reduction(std::string(reduction));
  detail::check_kl_backward(grad_out, y_true, red, grad_dtype);
  const c10::cuda::CUDAGuard guard(y_true.device());
  const at::Tensor target = target_for_kernel(y_true, grad_dtype);
  const int64_t rows = target.size(0), cols = target.size(1);
  at::Tensor grad = at::empty({rows, cols}, target.options().dtype(grad_dtype));
  if (grad.numel() == 0) return grad;
  const auto upstream = detail::kl_upstream(grad_out, red, at::kFloat);
  cuda::KlDivBackwardArgs a{};
  a.y_true = target.data_ptr();
  a.grad_out = upstream.first.data_ptr<float>();
  a.grad = grad.data_ptr();
  a.n = grad.numel();
  a.true_dtype = cuda::dtype_of(target, op, "y_true");
  a.grad_dtype = cuda::dtype_of(grad, op, "grad_dtype");
  a.log_target = log_target;
  a.elementwise = upstream.second;
  a.scale = static_cast<float>(1.0 / detail::kl_divisor(red, rows, cols));
  cuda::check_launch(cuda::kl_div_backward(a, at::cuda::getCurrentCUDAStream()), op);
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  detail::impl_forward_backward<kl_div_forward_cuda, kl_div_backward_cuda>(m, "kl_div");
}

}  // namespace liger
