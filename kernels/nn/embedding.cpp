#include "liger/nn/embedding.h"

#include <ATen/ATen.h>

#include "liger/embedding.h"

namespace liger {

void LigerEmbeddingImpl::reset() {
  const int64_t V = options.num_embeddings();
  TORCH_CHECK(V >= 0 && options.embedding_dim() >= 0, "LigerEmbedding: num_embeddings and embedding_dim must be "
              "non-negative, got ", V, " and ", options.embedding_dim());
  if (auto p = options.padding_idx()) {
    TORCH_CHECK(*p >= -V && *p < V, "LigerEmbedding: padding_idx ", *p, " must be within [-num_embeddings, "
                "num_embeddings) = [", -V, ", ", V, ")");
    options.padding_idx(*p < 0 ? *p + V : *p);
  }
  at::Tensor w = at::randn({V, options.embedding_dim()});
  if (auto p = options.padding_idx()) w[*p].zero_();
  weight = register_parameter("weight", w);
}

at::Tensor LigerEmbeddingImpl::forward(const at::Tensor& indices) {
  return embedding(weight, indices, options.padding_idx());
}

}  // namespace liger
