#pragma once
// Types shared by the CUDA launchers and their LibTorch bindings. No LibTorch here: .cu files
// include this and nvcc compiles them without LibTorch headers.
#include <cstdint>
#include <cuda_runtime_api.h>

namespace liger::cuda {

enum class DType : int { kF32 = 0, kF16 = 1, kBF16 = 2 };

}  // namespace liger::cuda
