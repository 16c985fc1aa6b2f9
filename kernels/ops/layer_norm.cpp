// LayerNorm operator: schema, autograd function and the C++ functional API.
// CPU kernels: ops/cpu/layer_norm_kernel.cpp; CUDA: ops/cuda/layer_norm_cuda.cpp.
#include "liger/layer_norm.h"

#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

class LayerNormFunction : public torch::autograd::Function<LayerNormFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias, double eps) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [y, mean, rstd] = layer_norm_forward(input, weight, bias, eps);
    ctx->save_for_backward({input, weight, bias, mean, rstd});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    auto [dx, dw, db] = layer_norm_backward(grad_outputs[0], saved[0], saved[1], saved[2], saved[3], saved[4],
                                            saved[1].requires_grad(), saved[2].requires_grad());
    return {dx, dw, db, at::Tensor()};
  }
};

at::Tensor layer_norm_autograd(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  return LayerNormFunction::apply(input, weight, bias, eps);
}

// Below autograd (inference, or a caller that dispatches past it): just the forward.
at::Tensor layer_norm_no_grad(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  return std::get<0>(layer_norm_forward(input, weight, bias, eps));
}

using Triple = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("layer_norm(Tensor input, Tensor weight, Tensor bias, float eps=1e-06) -> Tensor");
  m.def("layer_norm_forward(Tensor input, Tensor weight, Tensor bias, float eps) -> (Tensor, Tensor, Tensor)");
  m.def("layer_norm_backward(Tensor grad_out, Tensor input, Tensor weight, Tensor bias, Tensor mean, Tensor rstd, "
        "bool weight_grad, bool bias_grad) -> (Tensor, Tensor, Tensor)");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("layer_norm", layer_norm_autograd, layer_norm_no_grad)

at::Tensor layer_norm(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  static const auto op = detail::typed_op<decltype(layer_norm_autograd)>("liger::layer_norm");
  return op.call(input, weight, bias, eps);
}

Triple layer_norm_forward(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  static const auto op = detail::typed_op<Triple(const at::Tensor&, const at::Tensor&, const at::Tensor&, double)>(
      "liger::layer_norm_forward");
  return op.call(input, weight, bias, eps);
}

Triple layer_norm_backward(const at::Tensor& grad_out, const at::Tensor& input, const at::Tensor& weight,
                           const at::Tensor& bias, const at::Tensor& mean, const at::Tensor& rstd, bool weight_grad,
                           bool bias_grad) {
  static const auto op =
      detail::typed_op<Triple(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                              const at::Tensor&, const at::Tensor&, bool, bool)>("liger::layer_norm_backward");
  return op.call(grad_out, input, weight, bias, mean, rstd, weight_grad, bias_grad);
}

}  // namespace liger
