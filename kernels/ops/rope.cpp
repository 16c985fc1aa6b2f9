// RoPE operator: schema, autograd function and the C++ functional API.
// Kernels: ops/cpu/rope_kernel.cpp, ops/cuda/rope_kernel.cu (bound in ops/cuda/rope_cuda.cpp).
#include "liger/rope.h"

#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

class LigerRopeFunction : public torch::autograd::Function<LigerRopeFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                               const at::Tensor& sin) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [q_rot, k_rot] = rope_forward(q, k, cos, sin);
    ctx->save_for_backward({cos, sin});
    // q_rot depends on q alone (cos and sin get no gradient), k_rot on k alone: an output whose
    // input does not require grad does not either (as with HF's eager ops).
    variable_list non_diff;
    if (!q.requires_grad()) non_diff.push_back(q_rot);
    if (!k.requires_grad()) non_diff.push_back(k_rot);
    if (!non_diff.empty()) ctx->mark_non_differentiable(non_diff);
    // An output nobody back-propagates into (Liger's benchmark uses only q's) stays undefined
    // instead of becoming a zero tensor that would then be rotated.
    ctx->set_materialize_grads(false);
    return {q_rot, k_rot};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    auto wanted = [&](size_t i) -> c10::optional<at::Tensor> {
      if (grad_outputs[i].defined() && ctx->needs_input_grad(i)) return grad_outputs[i];
      return c10::nullopt;
    };
    auto [dq, dk] = rope_backward(wanted(0), wanted(1), saved[0], saved[1]);
    return {dq, dk, at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> rope_autograd(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                                 const at::Tensor& sin) {
  auto out = LigerRopeFunction::apply(q, k, cos, sin);
  return {out[0], out[1]};
}

std::tuple<at::Tensor, at::Tensor> rope_no_grad(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                                const at::Tensor& sin) {
  return rope_forward(q, k, cos, sin);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("rope(Tensor q, Tensor k, Tensor cos, Tensor sin) -> (Tensor, Tensor)");
  m.def("rope_forward(Tensor q, Tensor k, Tensor cos, Tensor sin) -> (Tensor, Tensor)");
  m.def("rope_backward(Tensor? grad_q, Tensor? grad_k, Tensor cos, Tensor sin) -> (Tensor, Tensor)");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("rope", rope_autograd, rope_no_grad)

std::tuple<at::Tensor, at::Tensor> rope(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                        const at::Tensor& sin) {
  static const auto op = detail::typed_op<decltype(rope_autograd)>("liger::rope");
  return op.call(q, k, cos, sin);
}

std::tuple<at::Tensor, at::Tensor> liger_rotary_pos_emb(const at::Tensor& q, const at::Tensor& k,
                                                        const at::Tensor& cos, const at::Tensor& sin,
                                                        const c10::optional<at::Tensor>& /*position_ids*/,
                                                        int64_t /*unsqueeze_dim*/) {
  return rope(q, k, cos, sin);
}

std::tuple<at::Tensor, at::Tensor> rope_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                                const at::Tensor& sin) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&)>("liger::rope_forward");
  return op.call(q, k, cos, sin);
}

std::tuple<at::Tensor, at::Tensor> rope_backward(const c10::optional<at::Tensor>& grad_q,
                                                 const c10::optional<at::Tensor>& grad_k, const at::Tensor& cos,
                                                 const at::Tensor& sin) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const c10::optional<at::Tensor>&, const c10::optional<at::Tensor>&, const at::Tensor&, const at::Tensor&)>(
      "liger::rope_backward");
  return op.call(grad_q, grad_k, cos, sin);
}

}  // namespace liger
