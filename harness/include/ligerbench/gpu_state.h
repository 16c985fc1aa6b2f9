#pragma once
// GPU state (clocks, temperature, power, throttle reasons) and identity through NVML, which is
// loaded at run time (dlopen of libnvidia-ml.so.1): a node without it still runs, and its
// results say "nvml unavailable". GpuStateSource is the seam a unit test fakes.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ligerbench/proto.h"

namespace ligerbench {

struct GpuIdentity {
  std::string name, uuid, driver_version;
};

class GpuStateSource {
 public:
  virtual ~GpuStateSource() = default;
  // "" when usable, else why not ("nvml unavailable: libnvidia-ml.so.1: cannot open ...").
  virtual std::string unavailable() const = 0;
  // The device with this PCI bus id (as cudaDeviceGetPCIBusId writes it), or, when the id is
  // empty, with this NVML index. available = false when it cannot be read.
  virtual v1::GpuSample sample(const std::string& pci_bus_id, int index) const = 0;
  virtual GpuIdentity identity(const std::string& pci_bus_id, int index) const = 0;
};

// The NVML source of this process (loaded once, on first use).
const GpuStateSource& nvml_state_source();

// NVML's throttle-reason bits that mean the clocks were held down by power, heat or hardware
// (idle, application clocks and sync boost do not count).
constexpr uint64_t kClocksHeldDown = 0x4 /*sw_power_cap*/ | 0x8 /*hw_slowdown*/ | 0x20 /*sw_thermal*/ |
                                     0x40 /*hw_thermal*/ | 0x80 /*hw_power_brake*/;

// The names of the throttle-reason bits in `reasons`.
std::vector<std::string> throttle_names(uint64_t reasons);

// Samples the case's GPU before (call before the case) and after (call after): stores the samples
// (and, before, the GPU's UUID) in r, the samples taken `during` it (GpuStateSampler) too, and
// sets r.throttled when any sample's reasons hold the clocks down.
void record_gpu_before(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::CaseResult& r);
void record_gpu_after(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::CaseResult& r,
                      std::vector<v1::GpuSample> during = {});

// Samples a GPU on a thread of its own while a case runs: one sample every `interval` from its
// start, so a case shorter than that gets none (before and after cover it). At `max_samples`,
// every other sample is dropped and the interval doubles: memory stays bounded and the samples
// still span the whole of a long case. Nothing is started when the source is unavailable.
class GpuStateSampler {
 public:
  GpuStateSampler(const GpuStateSource& src, std::string pci_bus_id, int index, std::chrono::milliseconds interval,
                  std::size_t max_samples);
  ~GpuStateSampler();
  GpuStateSampler(const GpuStateSampler&) = delete;
  GpuStateSampler& operator=(const GpuStateSampler&) = delete;
  // Stops the thread (at once, not at the next tick) and returns the samples, oldest first.
  std::vector<v1::GpuSample> stop();

 private:
  void loop();
  const GpuStateSource& src_;
  const std::string bus_;
  const int index_;
  std::chrono::milliseconds interval_;
  const std::size_t max_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<v1::GpuSample> samples_;
  std::thread thread_;
};

// The sampler's settings for a case (runner.cpp).
constexpr std::chrono::milliseconds kGpuSampleInterval{100};
constexpr std::size_t kMaxGpuSamplesDuring = 64;

// Fills the node's GPU name, UUID, driver version and nvml status.
void record_gpu_identity(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::NodeInfo& n);

}  // namespace ligerbench
