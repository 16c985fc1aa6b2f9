#pragma once
// Launchers of the sparsemax CUDA kernels (kernels/ops/cuda/sparsemax_kernel.cu). Both work on
// the last dim of a contiguous (rows, cols) tensor.
#include "launch_common.h"

namespace liger::cuda {

struct SparsemaxForwardArgs {
  const void* x;  // (rows, cols)
  void* y;        // (rows, cols), x's dtype
  int64_t rows;
  int64_t cols;
  DType dtype;
};

struct SparsemaxBackwardArgs {
  const void* grad_out;  // (rows, cols), dtype
  const void* y;         // the forward's output
  void* grad_in;         // (rows, cols), dtype
  int64_t rows;
  int64_t cols;
  DType dtype;
};

// Longest row the kernels accept (a row lives in one block's registers).
int64_t sparsemax_max_cols(DType dtype);

cudaError_t sparsemax_forward(const SparsemaxForwardArgs& args, cudaStream_t stream);
cudaError_t sparsemax_backward(const SparsemaxBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
