#pragma once
// Launchers of multi-token attention's row kernels (kernels/ops/cuda/multi_token_attention_kernel.cu):
// contiguous (rows, L) views of (B, C, L, L) tensors, row r being query i = r mod L, whose keys
// j <= i are unmasked.
#include "common/launch_common.h"

namespace liger::cuda {

struct MtaProbsArgs {
  const void* scores;  // (rows, len)
  void* probs;         // (rows, len), scores' dtype
  int64_t rows;
  int64_t len;
  bool sparse;
  DType dtype;
};

struct MtaProbsBackwardArgs {
  void* grad;         // (rows, len): dP in, dS out
  const void* probs;  // the forward's P
  int64_t rows;
  int64_t len;
  bool sparse;
  DType dtype;
};

cudaError_t mta_probs(const MtaProbsArgs& args, cudaStream_t stream);
cudaError_t mta_probs_backward(const MtaProbsBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
