#pragma once
// Launchers of the embedding CUDA kernels (kernels/ops/cuda/embedding_kernel.cu).
#include <cstddef>

#include "common/launch_common.h"

namespace liger::cuda {

struct EmbeddingForwardArgs {
  const void* weight;      // (num_embeddings, dim), contiguous
  const int64_t* indices;  // (n,); rows of indices outside [0, num_embeddings) are written as 0
  void* out;               // (n, dim)
  int64_t n;
  int64_t num_embeddings;
  int64_t dim;
  int64_t padding_idx;     // rows at this index are written as 0; -1: none
  DType dtype;
};

struct EmbeddingBackwardArgs {
  const void* grad_out;    // (n, dim), contiguous
  const int64_t* indices;  // (n,); indices outside [0, num_embeddings) and padding_idx are skipped
  void* grad_weight;       // (num_embeddings, dim), written entirely (zeros where no index points)
  int64_t n;               // < 2^31
  int64_t num_embeddings;  // < 2^31 - 1
  int64_t dim;
  int64_t padding_idx;     // -1: none
  DType dtype;
  void* workspace;         // embedding_backward_workspace_bytes(n, num_embeddings) bytes
  size_t workspace_bytes;
};

cudaError_t embedding_forward(const EmbeddingForwardArgs& args, cudaStream_t stream);

// Range check of the indices in one small kernel: if any index is outside [0, num_embeddings) it
// stores 1 to bad_mapped[0] and an offending index to bad_mapped[1]. bad_mapped is the device
// address of mapped pinned host memory, zeroed by the caller; read it after the stream reaches
// this point (an event), without waiting for work queued behind it.
cudaError_t embedding_find_bad_index(const int64_t* indices, int64_t n, int64_t num_embeddings, int64_t* bad_mapped,
                                     cudaStream_t stream);

// Scratch the backward needs: sort keys and positions, and the radix sort's own storage.
size_t embedding_backward_workspace_bytes(int64_t n, int64_t num_embeddings);
cudaError_t embedding_backward(const EmbeddingBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
