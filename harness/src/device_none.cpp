// gpu_backend() for builds against a LibTorch without CUDA.
#include "ligerbench/device.h"

namespace ligerbench {
const GpuBackend* gpu_backend() { return nullptr; }
}  // namespace ligerbench
