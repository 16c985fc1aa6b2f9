// Sparsemax operator: schema, autograd function and the C++ functional API.
// CPU kernels: ops/cpu/sparsemax_kernel.cpp; CUDA: ops/cuda/row_op_cuda.cpp.
#include "liger/sparsemax.h"

#include <ATen/WrapDimUtils.h>
#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

int64_t wrap_dim(const at::Tensor& input, int64_t dim) {
  TORCH_CHECK(input.dim() >= 1, "liger::sparsemax: input must have at least 1 dim, got a scalar");
  return c10::maybe_wrap_dim(dim, input.dim());
}

// The kernels work on the last dim: `dim` is swapped with it on the way in and out (Liger's
// transpose; the kernels make the swapped input contiguous). For the last dim itself nothing is
// swapped, so the result is a plain tensor rather than a view.
at::Tensor swap_last(const at::Tensor& t, int64_t d) { return d == t.dim() - 1 ? t : t.transpose(d, -1); }

class SparsemaxFunction : public torch::autograd::Function<SparsemaxFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, int64_t dim) {
    at::AutoDispatchBelowADInplaceOrView guard;
    const int64_t d = wrap_dim(input, dim);
    at::Tensor y_last = sparsemax_forward(swap_last(input, d));
    ctx->save_for_backward({y_last});
    ctx->saved_data["dim"] = d;
    return swap_last(y_last, d);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const int64_t d = ctx->saved_data["dim"].toInt();
    const at::Tensor dx_last = sparsemax_backward(swap_last(grad_outputs[0], d), saved[0]);
    return {swap_last(dx_last, d), at::Tensor()};
  }
};

at::Tensor sparsemax_autograd(const at::Tensor& input, int64_t dim) { return SparsemaxFunction::apply(input, dim); }

// Below autograd (inference, or a caller that dispatches past it): just the forward.
at::Tensor sparsemax_no_grad(const at::Tensor& input, int64_t dim) {
  const int64_t d = wrap_dim(input, dim);
  return swap_last(sparsemax_forward(swap_last(input, d)), d);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("sparsemax(Tensor input, int dim=-1) -> Tensor");
  m.def("sparsemax_forward(Tensor input) -> Tensor");
  m.def("sparsemax_backward(Tensor grad_out, Tensor output) -> Tensor");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("sparsemax", sparsemax_autograd, sparsemax_no_grad)

at::Tensor sparsemax(const at::Tensor& input, int64_t dim) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, int64_t)>("liger::sparsemax");
  return op.call(input, dim);
}

at::Tensor sparsemax_forward(const at::Tensor& input) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&)>("liger::sparsemax_forward");
  return op.call(input);
}

at::Tensor sparsemax_backward(const at::Tensor& grad_out, const at::Tensor& output) {
  static const auto op =
      detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("liger::sparsemax_backward");
  return op.call(grad_out, output);
}

}  // namespace liger
