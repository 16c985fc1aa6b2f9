#pragma once
// Launcher of the kernel that scales a stored gradient by the upstream scalar gradient, read on
// the device (kernels/ops/cuda/common/grad_scale_kernel.cu): the backward of the losses whose forward
// computes the whole gradient (JSD, fused linear JSD).
#include "launch_common.h"

namespace liger::cuda {

struct GradScaleArgs {
  const void* in;      // (n,) contiguous
  void* out;           // (n,), same dtype; may be `in`
  const float* scale;  // one value, on the device
  int64_t n;
  DType dtype;
};

cudaError_t grad_scale(const GradScaleArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
