// SwiGLU's SiLU-multiply operator: schema, autograd function and the C++ functional API.
// Kernels: ops/cpu/glu_kernel.cpp, ops/cuda/glu_kernel.cu (bound in ops/cuda/glu_cuda.cpp).
#include "liger/swiglu.h"

#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

// Liger's name for it, so that grad_fn reads the same.
class LigerSiLUMulFunction : public torch::autograd::Function<LigerSiLUMulFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b, double gate_multiplier,
                            double down_multiplier, bool in_place) {
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor c = swiglu_forward(a, b, gate_multiplier, down_multiplier);
    ctx->save_for_backward({a, b});
    ctx->saved_data["gate_multiplier"] = gate_multiplier;
    ctx->saved_data["down_multiplier"] = down_multiplier;
    // Overwriting a and b in the backward is only acceptable for intermediates autograd made (the
    // gate/up projections of an MLP), never for a caller's own leaf tensors.
    ctx->saved_data["in_place"] = in_place && !a.is_leaf() && !b.is_leaf();
    return c;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    auto [da, db] = swiglu_backward(grad_outputs[0], saved[0], saved[1], ctx->saved_data["gate_multiplier"].toDouble(),
                                    ctx->saved_data["down_multiplier"].toDouble(), ctx->saved_data["in_place"].toBool());
    return {da, db, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor swiglu_autograd(const at::Tensor& a, const at::Tensor& b, double gate_multiplier, double down_multiplier,
                           bool in_place) {
  return LigerSiLUMulFunction::apply(a, b, gate_multiplier, down_multiplier, in_place);
}

at::Tensor swiglu_no_grad(const at::Tensor& a, const at::Tensor& b, double gate_multiplier, double down_multiplier,
                          bool /*in_place*/) {
  return swiglu_forward(a, b, gate_multiplier, down_multiplier);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("swiglu(Tensor a, Tensor b, float gate_multiplier=1.0, float down_multiplier=1.0, bool in_place=True) -> Tensor");
  m.def("swiglu_forward(Tensor a, Tensor b, float gate_multiplier, float down_multiplier) -> Tensor");
  // With in_place, grad_a and grad_b are written into a's and b's memory when a and b are
  // contiguous and disjoint (Liger's behaviour, documented in liger/swiglu.h).
  m.def("swiglu_backward(Tensor grad_out, Tensor a, Tensor b, float gate_multiplier, float down_multiplier, "
        "bool in_place) -> (Tensor, Tensor)");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("swiglu", swiglu_autograd, swiglu_no_grad)

at::Tensor swiglu(const at::Tensor& a, const at::Tensor& b, double gate_multiplier, double down_multiplier,
                  bool in_place) {
  static const auto op = detail::typed_op<decltype(swiglu_autograd)>("liger::swiglu");
  return op.call(a, b, gate_multiplier, down_multiplier, in_place);
}

at::Tensor liger_swiglu(const at::Tensor& a, const at::Tensor& b) { return swiglu(a, b); }

at::Tensor swiglu_forward(const at::Tensor& a, const at::Tensor& b, double gate_multiplier, double down_multiplier) {
  static const auto op =
      detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, double, double)>("liger::swiglu_forward");
  return op.call(a, b, gate_multiplier, down_multiplier);
}

std::tuple<at::Tensor, at::Tensor> swiglu_backward(const at::Tensor& grad_out, const at::Tensor& a, const at::Tensor& b,
                                                   double gate_multiplier, double down_multiplier, bool in_place) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, double, double, bool)>("liger::swiglu_backward");
  return op.call(grad_out, a, b, gate_multiplier, down_multiplier, in_place);
}

}  // namespace liger
