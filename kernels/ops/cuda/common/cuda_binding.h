#pragma once
// Helpers for the .cpp files that bind CUDA launchers to LibTorch (compiled only with a CUDA LibTorch).
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "launch_common.h"

namespace liger::cuda {

inline DType dtype_of(const at::Tensor& t, const char* op, const char* arg) {
  switch (t.scalar_type()) {
    case at::kFloat: return DType::kF32;
    case at::kHalf: return DType::kF16;
    case at::kBFloat16: return DType::kBF16;
    default:
      TORCH_CHECK(false, op, ": ", arg, " has dtype ", t.scalar_type(),
                  "; the CUDA kernel supports float32, float16 and bfloat16");
  }
}

inline void check_launch(cudaError_t err, const char* op) {
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA launch failed: ", cudaGetErrorString(err));
}

}  // namespace liger::cuda
