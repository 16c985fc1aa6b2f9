#pragma once
// Launchers of the RMSNorm CUDA kernels (kernels/ops/cuda/rms_norm_kernel.cu).
#include "../common/rms_norm_params.h"
#include "common/launch_common.h"

namespace liger::cuda {

struct RmsNormForwardArgs {
  const void* x;        // (rows, cols), x_dtype, contiguous
  const void* weight;   // (cols,), w_dtype, or nullptr
  void* y;              // (rows, cols), x_dtype
  void* rstd;           // (rows,), fp32 (llama, gemma) or x_dtype (none)
  int64_t rows;
  int64_t cols;
  DType x_dtype;
  DType w_dtype;        // x_dtype or kF32
  float eps;
  float offset;
  RmsCasting casting;
};

struct RmsNormBackwardArgs {
  const void* grad_out;  // (rows, cols), x_dtype; may be the same memory as grad_in (in place)
  const void* x;
  const void* weight;    // or nullptr
  const void* rstd;
  void* grad_in;         // (rows, cols), x_dtype
  float* weight_partials;  // (partial_rows, cols) fp32 workspace, or nullptr when no dW wanted
  void* grad_weight;     // (cols,), w_dtype, or nullptr
  int64_t rows;
  int64_t cols;
  DType x_dtype;
  DType w_dtype;
  float offset;
  RmsCasting casting;
  int partial_rows;      // from rms_norm_backward_partial_rows
};

// Longest row the kernels accept for this row length's alignment class (rows live in registers).
int64_t rms_norm_max_cols(int64_t cols, DType x_dtype);

// Number of fp32 partial rows of dW the backward needs (one per resident block).
int rms_norm_backward_partial_rows(int64_t rows, int64_t cols, DType x_dtype, DType w_dtype);

cudaError_t rms_norm_forward(const RmsNormForwardArgs& args, cudaStream_t stream);
cudaError_t rms_norm_backward(const RmsNormBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
