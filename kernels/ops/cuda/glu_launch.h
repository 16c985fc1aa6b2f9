#pragma once
// Launchers of the SwiGLU/GeGLU elementwise CUDA kernels (kernels/ops/cuda/glu_kernel.cu).
#include "../common/glu_math.h"
#include "common/launch_common.h"

namespace liger::cuda {

struct GluForwardArgs {
  const void* a;  // (n,), dtype, contiguous
  const void* b;
  void* c;
  int64_t n;
  DType dtype;
  GluActivation act;
  float gate_multiplier;  // SwiGLU only (1 for GeGLU)
  float down_multiplier;
};

struct GluBackwardArgs {
  const void* grad_out;  // (n,), dtype, contiguous
  const void* a;
  const void* b;
  void* grad_a;  // may be a's memory (in place)
  void* grad_b;  // may be b's memory
  int64_t n;
  DType dtype;
  GluActivation act;
  float gate_multiplier;
  float down_multiplier;
};

cudaError_t glu_forward(const GluForwardArgs& args, cudaStream_t stream);
cudaError_t glu_backward(const GluBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
