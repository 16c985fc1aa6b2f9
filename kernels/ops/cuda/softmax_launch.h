#pragma once
// Launchers of the softmax CUDA kernels (kernels/ops/cuda/softmax_kernel.cu).
#include "launch_common.h"

namespace liger::cuda {

struct SoftmaxForwardArgs {
  const void* x;  // (rows, cols), contiguous
  void* y;        // (rows, cols), x's dtype
  int64_t rows;
  int64_t cols;
  DType dtype;
};

struct SoftmaxBackwardArgs {
  const void* grad_out;  // (rows, cols), dtype
  const void* y;         // the forward's output
  void* grad_in;         // (rows, cols), dtype
  int64_t rows;
  int64_t cols;
  DType dtype;
};

// Longest row the kernels accept (a row lives in one block's registers).
int64_t softmax_max_cols(DType dtype);

cudaError_t softmax_forward(const SoftmaxForwardArgs& args, cudaStream_t stream);
cudaError_t softmax_backward(const SoftmaxBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
