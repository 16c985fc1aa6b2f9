#pragma once
// What the harness needs from a GPU runtime, behind one interface: the CUDA implementation
// (device_cuda.cpp) is compiled only against a CUDA LibTorch; elsewhere gpu_backend() is null.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ligerbench {

enum class L2Flush { kNone, kMemset, kClean };

class GpuBackend {
 public:
  virtual ~GpuBackend() = default;
  virtual int device_count() const = 0;
  virtual std::string device_name(int device) const = 0;
  virtual std::string pci_bus_id(int device) const = 0;  // "0000:3b:00.0": how NVML finds the device
  virtual std::string driver_version() const = 0;
  virtual std::string runtime_version() const = 0;
  virtual int64_t total_memory(int device) const = 0;
  virtual void synchronize(int device) const = 0;
  virtual void empty_cache() const = 0;
  virtual void reset_peak_memory(int device) const = 0;
  virtual int64_t allocated_bytes(int device) const = 0;
  virtual int64_t peak_allocated_bytes(int device) const = 0;
  // Runs fn n times back to back on the current stream with a CUDA event pair around each run
  // (no host synchronisation between runs, so launch overhead hides behind queued work, as in
  // triton's do_bench); a flush of a buffer twice the L2 size precedes each run unless `flush` is
  // kNone: a memset (kMemset, as do_bench) or a read that leaves L2 clean (kClean). With hold_ms > 0
  // a spin kernel of about that long is queued ahead of each run (and its flush): the GPU is held
  // while the host queues the run, so the events time the GPU's work without gaps in which it
  // waited for the host (nvbench's blocking kernel does the same). Returns ms per run.
  virtual std::vector<double> time_runs(int device, const std::function<void()>& fn, int n, L2Flush flush,
                                        double hold_ms) const = 0;
  // fn captured once into a CUDA graph on `device` (fn must have run before, so that lazy
  // initialisation is not captured); the returned callable replays it on the current stream.
  // Throws std::runtime_error saying why when fn cannot be captured (a host synchronisation, ...).
  virtual std::function<void()> capture_graph(int device, const std::function<void()>& fn) const = 0;
};

// The CUDA backend, or nullptr when LibTorch has no CUDA or no GPU is visible.
const GpuBackend* gpu_backend();

}  // namespace ligerbench
