// JSD operator: schema, autograd function and the C++ functional API.
// CPU kernel: ops/cpu/jsd_kernel.cpp; CUDA: ops/cuda/jsd_cuda.cpp.
//
// Like Liger, the forward produces the whole gradient (one pass over log_q and log_p that also
// writes d loss / d log_q) and the backward only scales it by the upstream scalar. Unlike
// Liger, the backward always scales (no host-side test for 1.0, which would synchronise and
// break CUDA-graph capture) and writes a new tensor: scaling the saved gradient in place would be
// wrong when the graph is retained and backward runs again.
#include "liger/jsd.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

class JsdFunction : public torch::autograd::Function<JsdFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& target,
                            const c10::optional<at::Tensor>& shift_labels, double beta, int64_t ignore_index) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [loss, grad_input] = jsd_forward(input, target, shift_labels, beta, ignore_index);
    ctx->save_for_backward({grad_input});
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    return {jsd_backward(grad_outputs[0], saved[0]), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// Below autograd (inference, or a caller that dispatches past it): the loss only, no gradient
// computed or allocated.
at::Tensor jsd_no_grad(const at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& shift_labels,
                       double beta, int64_t ignore_index) {
  return std::get<0>(jsd_forward(input, target, shift_labels, beta, ignore_index, /*compute_grad=*/false));
}

// No gradient wanted (grad mode off, as under torch.no_grad, or an input that does not require
// it): the loss only, as below autograd.
at::Tensor jsd_autograd(const at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& shift_labels,
                        double beta, int64_t ignore_index) {
  if (!(at::GradMode::is_enabled() && input.requires_grad())) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return jsd_no_grad(input, target, shift_labels, beta, ignore_index);
  }
  return JsdFunction::apply(input, target, shift_labels, beta, ignore_index);
}

// CPU: one elementwise pass; the 0-dim upstream gradient does not change the result's dtype.
// (CUDA: ops/cuda/jsd_cuda.cpp.)
at::Tensor jsd_backward_cpu(const at::Tensor& grad_out, const at::Tensor& grad_input) {
  TORCH_CHECK(grad_out.numel() == 1, "liger::jsd_backward: grad_out must be a scalar, got shape ", grad_out.sizes());
  return at::mul(grad_input, grad_out.reshape({}));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("jsd(Tensor input, Tensor target, Tensor? shift_labels=None, float beta=0.5, int ignore_index=-100) -> Tensor");
  m.def("jsd_forward(Tensor input, Tensor target, Tensor? shift_labels, float beta, int ignore_index, "
        "bool compute_grad=True) -> (Tensor, Tensor)");
  m.def("jsd_backward(Tensor grad_out, Tensor grad_input) -> Tensor");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("jsd", jsd_autograd, jsd_no_grad)
TORCH_LIBRARY_IMPL(liger, CPU, m) { m.impl("jsd_backward", TORCH_FN(jsd_backward_cpu)); }

at::Tensor jsd(const at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& shift_labels,
               double beta, int64_t ignore_index) {
  static const auto op = detail::typed_op<decltype(jsd_autograd)>("liger::jsd");
  return op.call(input, target, shift_labels, beta, ignore_index);
}

std::tuple<at::Tensor, at::Tensor> jsd_forward(const at::Tensor& input, const at::Tensor& target,
                                               const c10::optional<at::Tensor>& shift_labels, double beta,
                                               int64_t ignore_index, bool compute_grad) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&, double, int64_t, bool)>(
      "liger::jsd_forward");
  return op.call(input, target, shift_labels, beta, ignore_index, compute_grad);
}

at::Tensor jsd_backward(const at::Tensor& grad_out, const at::Tensor& grad_input) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("liger::jsd_backward");
  return op.call(grad_out, grad_input);
}

}  // namespace liger
