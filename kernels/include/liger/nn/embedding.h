#pragma once
// torch::nn module mirroring Liger's LigerEmbedding(num_embeddings, embedding_dim, padding_idx=None).
#include <c10/util/Optional.h>

#include "liger/nn/module.h"

namespace liger {

struct LigerEmbeddingOptions {
  LigerEmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  TORCH_ARG(int64_t, num_embeddings);
  TORCH_ARG(int64_t, embedding_dim);
  // Negative counts from the end (as nn.Embedding). That row is zeroed at init and outputs at
  // that index are forced to 0, so the row never receives a gradient.
  TORCH_ARG(c10::optional<int64_t>, padding_idx) = c10::nullopt;
};

class LigerEmbeddingImpl : public LigerModule<LigerEmbeddingImpl, LigerEmbeddingOptions> {
 public:
  explicit LigerEmbeddingImpl(const LigerEmbeddingOptions& options) : LigerModule(options) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& indices);

  at::Tensor weight;  // (num_embeddings, embedding_dim), standard normal
};

TORCH_MODULE(LigerEmbedding);

}  // namespace liger
