#pragma once
// Launchers of the KL divergence CUDA kernels (kernels/ops/cuda/kl_div_kernel.cu).
// Supported dtype pairs: y_true in y_pred's dtype, or y_true in fp32 with any y_pred dtype.
#include "common/launch_common.h"

namespace liger::cuda {

struct KlDivForwardArgs {
  const void* y_pred;   // (n,) contiguous, pred_dtype
  const void* y_true;   // (n,) contiguous, true_dtype
  void* out;            // fp32: (n,) when elementwise, else the scalar loss
  double* partials;     // reduce_partials_capacity() doubles (reduced modes)
  int64_t n;            // BT * V
  DType pred_dtype;
  DType true_dtype;
  bool log_target;
  float eps;
  bool elementwise;     // reduction "none"
  double scale;         // 1 / divisor of the reduction (reduced modes)
};

struct KlDivBackwardArgs {
  const void* y_true;      // (n,) contiguous, true_dtype
  const float* grad_out;   // (n,) when elementwise, else one value
  void* grad;              // (n,), grad_dtype
  int64_t n;
  DType true_dtype;
  DType grad_dtype;
  bool log_target;
  bool elementwise;
  float scale;             // 1 / divisor of the reduction
};

cudaError_t kl_div_forward(const KlDivForwardArgs& args, cudaStream_t stream);
cudaError_t kl_div_backward(const KlDivBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
