// Softmax operator: schema, autograd function and the C++ functional API.
// CPU kernels: ops/cpu/softmax_kernel.cpp; CUDA: ops/cuda/row_op_cuda.cpp.
#include "liger/softmax.h"

#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

class SoftmaxFunction : public torch::autograd::Function<SoftmaxFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input) {
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor y = softmax_forward(input);
    ctx->save_for_backward({y});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    return {softmax_backward(grad_outputs[0], saved[0])};
  }
};

at::Tensor softmax_autograd(const at::Tensor& input) { return SoftmaxFunction::apply(input); }

// Below autograd (inference, or a caller that dispatches past it): just the forward.
at::Tensor softmax_no_grad(const at::Tensor& input) { return softmax_forward(input); }

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("softmax(Tensor input) -> Tensor");
  m.def("softmax_forward(Tensor input) -> Tensor");
  m.def("softmax_backward(Tensor grad_out, Tensor output) -> Tensor");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("softmax", softmax_autograd, softmax_no_grad)

at::Tensor softmax(const at::Tensor& input) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&)>("liger::softmax");
  return op.call(input);
}

at::Tensor softmax_forward(const at::Tensor& input) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&)>("liger::softmax_forward");
  return op.call(input);
}

at::Tensor softmax_backward(const at::Tensor& grad_out, const at::Tensor& output) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("liger::softmax_backward");
  return op.call(grad_out, output);
}

}  // namespace liger
