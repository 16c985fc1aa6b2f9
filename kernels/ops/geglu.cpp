// GeGLU's GELU(tanh)-multiply operator: schema, autograd function and the C++ functional API.
// Kernels: ops/cpu/glu_kernel.cpp, ops/cuda/glu_kernel.cu (bound in ops/cuda/glu_cuda.cpp).
#include "liger/geglu.h"

#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

// Liger's name for it, so that grad_fn reads the same.
class LigerGELUMulFunction : public torch::autograd::Function<LigerGELUMulFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b, bool in_place) {
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor c = geglu_forward(a, b);
    ctx->save_for_backward({a, b});
    // As in swiglu: overwrite only intermediates autograd made, never a caller's leaf tensors.
    ctx->saved_data["in_place"] = in_place && !a.is_leaf() && !b.is_leaf();
    return c;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    auto [da, db] = geglu_backward(grad_outputs[0], saved[0], saved[1], ctx->saved_data["in_place"].toBool());
    return {da, db, at::Tensor()};
  }
};

at::Tensor geglu_autograd(const at::Tensor& a, const at::Tensor& b, bool in_place) {
  return LigerGELUMulFunction::apply(a, b, in_place);
}

at::Tensor geglu_no_grad(const at::Tensor& a, const at::Tensor& b, bool /*in_place*/) { return geglu_forward(a, b); }

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("geglu(Tensor a, Tensor b, bool in_place=True) -> Tensor");
  m.def("geglu_forward(Tensor a, Tensor b) -> Tensor");
  // With in_place, grad_a and grad_b are written into a's and b's memory when a and b are
  // contiguous and disjoint (Liger's behaviour, documented in liger/geglu.h).
  m.def("geglu_backward(Tensor grad_out, Tensor a, Tensor b, bool in_place) -> (Tensor, Tensor)");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("geglu", geglu_autograd, geglu_no_grad)

at::Tensor geglu(const at::Tensor& a, const at::Tensor& b, bool in_place) {
  static const auto op = detail::typed_op<decltype(geglu_autograd)>("liger::geglu");
  return op.call(a, b, in_place);
}

at::Tensor liger_geglu(const at::Tensor& a, const at::Tensor& b) { return geglu(a, b); }

at::Tensor geglu_forward(const at::Tensor& a, const at::Tensor& b) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("liger::geglu_forward");
  return op.call(a, b);
}

std::tuple<at::Tensor, at::Tensor> geglu_backward(const at::Tensor& grad_out, const at::Tensor& a, const at::Tensor& b,
                                                  bool in_place) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, bool)>("liger::geglu_backward");
  return op.call(grad_out, a, b, in_place);
}

}  // namespace liger
