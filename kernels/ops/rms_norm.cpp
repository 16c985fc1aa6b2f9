// RMSNorm operator: schema, autograd function and the C++ functional API.
// CPU kernels: ops/cpu/rms_norm_kernel.cpp; CUDA: ops/cuda/rms_norm_cuda.cpp.
#include "liger/rms_norm.h"

#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const c10::optional<at::Tensor>& weight,
                            double eps, double offset, c10::string_view casting_mode, bool in_place) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [y, rstd] = rms_norm_forward(input, weight, eps, offset, std::string(casting_mode));
    ctx->save_for_backward({input, weight.value_or(at::Tensor()), rstd});
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["casting_mode"] = std::string(casting_mode);
    ctx->saved_data["in_place"] = in_place;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& weight = saved[1];
    const bool weight_grad = weight.defined() && weight.requires_grad();
    auto [dx, dw] = rms_norm_backward(grad_outputs[0], saved[0],
                                      weight.defined() ? c10::optional<at::Tensor>(weight) : c10::nullopt,
                                      saved[2], ctx->saved_data["offset"].toDouble(),
                                      ctx->saved_data["casting_mode"].toStringRef(),
                                      ctx->saved_data["in_place"].toBool(), weight_grad);
    return {dx, dw, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor rms_norm_autograd(const at::Tensor& input, const c10::optional<at::Tensor>& weight, double eps,
                             double offset, c10::string_view casting_mode, bool in_place) {
  return RmsNormFunction::apply(input, weight, eps, offset, casting_mode, in_place);
}

// Below autograd (inference, or a caller that dispatches past it): just the forward.
at::Tensor rms_norm_no_grad(const at::Tensor& input, const c10::optional<at::Tensor>& weight, double eps,
                            double offset, c10::string_view casting_mode, bool /*in_place*/) {
  return std::get<0>(rms_norm_forward(input, weight, eps, offset, std::string(casting_mode)));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("rms_norm(Tensor input, Tensor? weight, float eps=1e-06, float offset=0.0, str casting_mode=\"llama\", "
        "bool in_place=True) -> Tensor");
  m.def("rms_norm_forward(Tensor input, Tensor? weight, float eps, float offset, str casting_mode) -> (Tensor, Tensor)");
  // With in_place, grad_input is written into grad_out's memory (Liger's behaviour, documented).
  m.def("rms_norm_backward(Tensor grad_out, Tensor input, Tensor? weight, Tensor rstd, float offset, "
        "str casting_mode, bool in_place, bool weight_grad) -> (Tensor, Tensor)");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("rms_norm", rms_norm_autograd, rms_norm_no_grad)

at::Tensor rms_norm(const at::Tensor& input, const c10::optional<at::Tensor>& weight, double eps, double offset,
                    const std::string& casting_mode, bool in_place) {
  static const auto op = detail::typed_op<decltype(rms_norm_autograd)>("liger::rms_norm");
  return op.call(input, weight, eps, offset, casting_mode, in_place);
}

std::tuple<at::Tensor, at::Tensor> rms_norm_forward(const at::Tensor& input, const c10::optional<at::Tensor>& weight,
                                                    double eps, double offset, const std::string& casting_mode) {
  static const auto op =
      detail::typed_op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const c10::optional<at::Tensor>&, double,
                                                          double, c10::string_view)>("liger::rms_norm_forward");
  return op.call(input, weight, eps, offset, casting_mode);
}

std::tuple<at::Tensor, at::Tensor> rms_norm_backward(const at::Tensor& grad_out, const at::Tensor& input,
                                                     const c10::optional<at::Tensor>& weight, const at::Tensor& rstd,
                                                     double offset, const std::string& casting_mode, bool in_place,
                                                     bool weight_grad) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&, const at::Tensor&, double,
      c10::string_view, bool, bool)>("liger::rms_norm_backward");
  return op.call(grad_out, input, weight, rstd, offset, casting_mode, in_place, weight_grad);
}

}  // namespace liger
