// Embedding operator: schema, autograd function and the C++ functional API.
// Kernels: ops/cpu/embedding_kernel.cpp, ops/cuda/embedding_kernel.cu (bound in ops/cuda/embedding_cuda.cpp).
#include "liger/embedding.h"

#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"

namespace liger {
namespace {

// Liger's name for it, so that grad_fn reads the same.
class LigerEmbeddingFunction : public torch::autograd::Function<LigerEmbeddingFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& weight, const at::Tensor& indices,
                            c10::optional<int64_t> padding_idx) {
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor out = embedding_forward(weight, indices, padding_idx);
    ctx->save_for_backward({indices});
    ctx->saved_data["num_embeddings"] = weight.size(0);
    ctx->saved_data["padding_idx"] = padding_idx ? c10::IValue(*padding_idx) : c10::IValue();
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const c10::IValue& p = ctx->saved_data["padding_idx"];
    at::Tensor dw = embedding_backward(grad_outputs[0], saved[0], ctx->saved_data["num_embeddings"].toInt(),
                                       p.isNone() ? c10::nullopt : c10::optional<int64_t>(p.toInt()));
    return {dw, at::Tensor(), at::Tensor()};
  }
};

at::Tensor embedding_autograd(const at::Tensor& weight, const at::Tensor& indices, c10::optional<int64_t> padding_idx) {
  return LigerEmbeddingFunction::apply(weight, indices, padding_idx);
}

at::Tensor embedding_no_grad(const at::Tensor& weight, const at::Tensor& indices, c10::optional<int64_t> padding_idx) {
  return embedding_forward(weight, indices, padding_idx);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("embedding(Tensor weight, Tensor indices, int? padding_idx=None) -> Tensor");
  m.def("embedding_forward(Tensor weight, Tensor indices, int? padding_idx) -> Tensor");
  // Indices are validated by the forward; here any outside [0, num_embeddings) are ignored.
  m.def("embedding_backward(Tensor grad_out, Tensor indices, int num_embeddings, int? padding_idx) -> Tensor");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("embedding", embedding_autograd, embedding_no_grad)

at::Tensor embedding(const at::Tensor& weight, const at::Tensor& indices, c10::optional<int64_t> padding_idx) {
  static const auto op = detail::typed_op<decltype(embedding_autograd)>("liger::embedding");
  return op.call(weight, indices, padding_idx);
}

at::Tensor embedding_forward(const at::Tensor& weight, const at::Tensor& indices, c10::optional<int64_t> padding_idx) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, c10::optional<int64_t>)>(
      "liger::embedding_forward");
  return op.call(weight, indices, padding_idx);
}

at::Tensor embedding_backward(const at::Tensor& grad_out, const at::Tensor& indices, int64_t num_embeddings,
                              c10::optional<int64_t> padding_idx) {
  static const auto op =
      detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, c10::optional<int64_t>)>(
          "liger::embedding_backward");
  return op.call(grad_out, indices, num_embeddings, padding_idx);
}

}  // namespace liger
