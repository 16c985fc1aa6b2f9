#pragma once
// Launcher of the fused linear JSD's per-chunk CUDA kernel (kernels/ops/cuda/fused_linear_jsd_kernel.cu).
#include "../common/divergence_math.h"
#include "common/launch_common.h"

namespace liger::cuda {

struct JsdChunkArgs {
  void* student_logits;         // (rows, cols), contiguous; overwritten with d loss / d logits if write_grad
  const void* teacher_logits;   // (rows, cols), contiguous, same dtype
  float* row_loss;              // (rows,): each row's loss divided by n
  const int64_t* labels;        // (rows,) or nullptr
  const int64_t* n_valid;       // device count n of the rows not ignored over the whole batch
  int64_t rows;
  int64_t cols;
  DType dtype;
  float inv_temperature;
  float beta;
  JsdMode mode;
  int64_t ignore_index;
  bool write_grad;              // false: the row losses only (inference), student_logits untouched
};

cudaError_t fused_linear_jsd_chunk(const JsdChunkArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
