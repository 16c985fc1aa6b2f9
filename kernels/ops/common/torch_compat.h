#pragma once
// The one place for code that differs between the LibTorch versions this project builds against
// (Debian's 1.13 in CI, the PyTorch wheel's 2.x on the GPU node).
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define LIGER_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace liger::compat {

// Autocast state per device type. LibTorch 2.4 replaced the per-device functions (is_enabled,
// is_cpu_enabled, get_autocast_gpu_dtype, ...) by ones taking the device type, and deprecated them.
inline bool autocast_enabled(c10::DeviceType type) {
#if LIGER_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(type);
#else
  if (type == c10::DeviceType::CUDA) return at::autocast::is_enabled();
  if (type == c10::DeviceType::CPU) return at::autocast::is_cpu_enabled();
  return false;
#endif
}

inline void set_autocast_enabled(c10::DeviceType type, bool enabled) {
#if LIGER_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(type, enabled);
#else
  if (type == c10::DeviceType::CUDA) at::autocast::set_enabled(enabled);
  if (type == c10::DeviceType::CPU) at::autocast::set_cpu_enabled(enabled);
#endif
}

// The lower-precision dtype autocast casts to on `type` (fp16 on CUDA, bf16 on CPU by default).
inline at::ScalarType autocast_dtype(c10::DeviceType type) {
#if LIGER_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(type);
#else
  return type == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

}  // namespace liger::compat
