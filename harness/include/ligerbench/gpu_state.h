#pragma once
// GPU state (clocks, temperature, power, throttle reasons) and identity through NVML, which is
// loaded at run time (dlopen of libnvidia-ml.so.1): a node without it still runs, and its
// results say "nvml unavailable". GpuStateSource is the seam a unit test fakes.
#include <cstdint>
#include <string>
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
// (and, before, the GPU's UUID) in r and sets r.throttled when either sample's reasons hold the
// clocks down.
void record_gpu_before(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::CaseResult& r);
void record_gpu_after(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::CaseResult& r);

// Fills the node's GPU name, UUID, driver version and nvml status.
void record_gpu_identity(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::NodeInfo& n);

}  // namespace ligerbench
