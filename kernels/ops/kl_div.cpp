// KL divergence operator: schema, autograd function and the C++ functional API.
// CPU kernels: ops/cpu/kl_div_kernel.cpp; CUDA: ops/cuda/kl_div_cuda.cpp.
//
// The gradient is computed in the backward, not stored by the forward: it depends on y_true
// only, so the backward reads y_true and writes the gradient (2 passes over BT x V) while a
// forward-computed gradient would add a write to the forward and still need a read + write to
// scale it by the upstream gradient (3 passes), and would hold a (BT, V) buffer in between.
#include "liger/kl_div.h"

#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

class KlDivFunction : public torch::autograd::Function<KlDivFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& y_pred, const at::Tensor& y_true,
                            c10::string_view reduction, bool log_target, double eps) {
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor loss = kl_div_forward(y_pred, y_true, std::string(reduction), log_target, eps);
    ctx->save_for_backward({y_true});  // y_pred is not needed by the backward
    ctx->saved_data["reduction"] = std::string(reduction);
    ctx->saved_data["log_target"] = log_target;
    ctx->saved_data["grad_dtype"] = static_cast<int64_t>(y_pred.scalar_type());
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    at::Tensor grad = kl_div_backward(grad_outputs[0], saved[0], ctx->saved_data["reduction"].toStringRef(),
                                      ctx->saved_data["log_target"].toBool(),
                                      static_cast<at::ScalarType>(ctx->saved_data["grad_dtype"].toInt()));
    return {grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor kl_div_autograd(const at::Tensor& y_pred, const at::Tensor& y_true, c10::string_view reduction,
                           bool log_target, double eps) {
  return KlDivFunction::apply(y_pred, y_true, reduction, log_target, eps);
}

// Below autograd (inference, or a caller that dispatches past it): just the forward.
at::Tensor kl_div_no_grad(const at::Tensor& y_pred, const at::Tensor& y_true, c10::string_view reduction,
                          bool log_target, double eps) {
  return kl_div_forward(y_pred, y_true, std::string(reduction), log_target, eps);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("kl_div(Tensor y_pred, Tensor y_true, str reduction=\"mean\", bool log_target=False, float eps=1e-10) "
        "-> Tensor");
  m.def("kl_div_forward(Tensor y_pred, Tensor y_true, str reduction, bool log_target, float eps) -> Tensor");
  m.def("kl_div_backward(Tensor grad_out, Tensor y_true, str reduction, bool log_target, ScalarType grad_dtype) "
        "-> Tensor");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("kl_div", kl_div_autograd, kl_div_no_grad)

at::Tensor kl_div(const at::Tensor& y_pred, const at::Tensor& y_true, const std::string& reduction, bool log_target,
                  double eps) {
  static const auto op = detail::typed_op<decltype(kl_div_autograd)>("liger::kl_div");
  return op.call(y_pred, y_true, reduction, log_target, eps);
}

at::Tensor kl_div_forward(const at::Tensor& y_pred, const at::Tensor& y_true, const std::string& reduction,
                          bool log_target, double eps) {
  static const auto op =
      detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view, bool, double)>(
          "liger::kl_div_forward");
  return op.call(y_pred, y_true, reduction, log_target, eps);
}

at::Tensor kl_div_backward(const at::Tensor& grad_out, const at::Tensor& y_true, const std::string& reduction,
                           bool log_target, at::ScalarType grad_dtype) {
  static const auto op =
      detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view, bool, at::ScalarType)>(
          "liger::kl_div_backward");
  return op.call(grad_out, y_true, reduction, log_target, grad_dtype);
}

}  // namespace liger
