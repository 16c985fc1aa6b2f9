#pragma once
// Launcher of the RoPE CUDA kernel (kernels/ops/cuda/rope_kernel.cu).
#include "common/launch_common.h"

namespace liger::cuda {

// One tensor to rotate: (batch, heads, seq_len, head_dim) in and out, each with its own strides
// (in elements; the last dim is contiguous). in == nullptr: nothing to rotate (heads ignored).
struct RopeRotated {
  const void* in;
  void* out;
  int64_t heads;
  int64_t in_stride[3];   // batch, head, token
  int64_t out_stride[3];
};

struct RopeArgs {
  RopeRotated q;
  RopeRotated k;
  const void* cos;         // rows of head_dim values; only the first head_dim / 2 are read
  const void* sin;
  int64_t cos_stride[2];   // batch (0 when one row set serves the whole batch), token
  int64_t sin_stride[2];
  int64_t batch;
  int64_t seq_len;
  int64_t head_dim;        // even
  DType dtype;             // of q and k (and their outputs)
  DType cos_dtype;         // dtype or kF32
  bool inverse;            // rotate by -theta (the backward)
};

cudaError_t rope_apply(const RopeArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
