// Sparsemax operator: schema, autograd function and the C++ functional API.
// CPU kernels: ops/cpu/sparsemax_kernel.cpp; CUDA: ops/cuda/row_op_cuda.cpp.
#include "liger/sparsemax.h"

#include <ATen/WrapDimUtils.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace liger {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

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

TORCH_LIBRARY_IMPL(liger, Autograd, m) { m.impl("sparsemax", TORCH_FN(sparsemax_autograd)); }
TORCH_LIBRARY_IMPL(liger, CPU, m) { m.impl("sparsemax", TORCH_FN(sparsemax_no_grad)); }
TORCH_LIBRARY_IMPL(liger, CUDA, m) { m.impl("sparsemax", TORCH_FN(sparsemax_no_grad)); }

at::Tensor sparsemax(const at::Tensor& input, int64_t dim) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("liger::sparsemax", "").typed<at::Tensor(const at::Tensor&, int64_t)>();
  return op.call(input, dim);
}

at::Tensor sparsemax_forward(const at::Tensor& input) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("liger::sparsemax_forward", "")
                       .typed<at::Tensor(const at::Tensor&)>();
  return op.call(input);
}

at::Tensor sparsemax_backward(const at::Tensor& grad_out, const at::Tensor& output) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("liger::sparsemax_backward", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&)>();
  return op.call(grad_out, output);
}

}  // namespace liger
