#pragma once
// Launcher of the JSD CUDA kernel (kernels/ops/cuda/jsd_kernel.cu).
#include "../common/divergence_math.h"
#include "common/launch_common.h"

namespace liger::cuda {

struct JsdForwardArgs {
  const void* input;       // log_q (rows, cols), contiguous
  const void* target;      // log_p (rows, cols), contiguous
  void* grad_input;        // (rows, cols): d loss / d log_q, or nullptr: the loss only
  void* loss;              // the scalar loss, in dtype
  double* partials;        // reduce_partials_capacity() doubles
  const int64_t* labels;   // (rows,) or nullptr: no row is ignored
  const int64_t* n_valid;  // device count of rows not ignored, or nullptr: all rows
  int64_t rows;
  int64_t cols;
  DType dtype;
  float beta;
  JsdMode mode;
  int64_t ignore_index;
};

cudaError_t jsd_forward(const JsdForwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
