#pragma once
// Launchers of the LayerNorm CUDA kernels (kernels/ops/cuda/layer_norm_kernel.cu).
#include "common/launch_common.h"

namespace liger::cuda {

struct LayerNormForwardArgs {
  const void* x;       // (rows, cols), x_dtype, contiguous
  const void* weight;  // (cols,), w_dtype
  const void* bias;    // (cols,), w_dtype
  void* y;             // (rows, cols), x_dtype
  float* mean;         // (rows,)
  float* rstd;         // (rows,)
  int64_t rows;
  int64_t cols;
  DType x_dtype;
  DType w_dtype;       // x_dtype or kF32
  float eps;
};

struct LayerNormBackwardArgs {
  const void* grad_out;  // (rows, cols), x_dtype
  const void* x;
  const void* weight;    // (cols,), w_dtype
  const float* mean;     // (rows,)
  const float* rstd;     // (rows,)
  void* grad_in;         // (rows, cols), x_dtype
  float* partials;       // (2, partial_rows, cols) fp32 workspace, or nullptr when neither dW nor dB is wanted
  void* grad_weight;     // (cols,), w_dtype, or nullptr
  void* grad_bias;       // (cols,), w_dtype, or nullptr
  int64_t rows;
  int64_t cols;
  DType x_dtype;
  DType w_dtype;
  int partial_rows;      // from layer_norm_backward_partial_rows
};

// Longest row the kernels accept (a row lives in one block's registers).
int64_t layer_norm_max_cols(DType x_dtype);

// Number of fp32 partial rows of dW (and of dB) the backward needs (one per resident block).
int layer_norm_backward_partial_rows(int64_t rows, int64_t cols, DType x_dtype, DType w_dtype);

cudaError_t layer_norm_forward(const LayerNormForwardArgs& args, cudaStream_t stream);
cudaError_t layer_norm_backward(const LayerNormBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
