#pragma once
// Runs work on a device, and once more on the CPU when the device runs out of memory for it:
// float64 references of the largest cases (8192 x 128256 logits and their autograd graph) need
// tens of GB, more than an 80 GB GPU has beside the kernel's own tensors; the host has more.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "ligerbench/device.h"

namespace ligerbench {

// fn(device) returns a value; on c10::OutOfMemoryError from a non-CPU device the allocator's
// cached blocks are released and fn(cpu) is returned instead. An OOM on the CPU propagates.
template <typename Fn>
auto on_device_or_cpu(const at::Device& device, Fn&& fn) -> decltype(fn(device)) {
  if (device.is_cpu()) return fn(device);
  try {
    return fn(device);
  } catch (const c10::OutOfMemoryError&) {
    if (const GpuBackend* gpu = gpu_backend()) gpu->empty_cache();
  }
  return fn(at::Device(at::kCPU));
}

}  // namespace ligerbench
