// The NVML GpuStateSource: libnvidia-ml.so.1 loaded with dlopen at run time, so the harness
// neither links nor needs NVML (nor its header: the few entry points are declared here, with
// NVML's C types: nvmlReturn_t is an int, nvmlDevice_t a pointer, 0 is NVML_SUCCESS).
#include <dlfcn.h>

#include <mutex>

#include "ligerbench/gpu_state.h"

namespace ligerbench {
namespace {

using Device = void*;
constexpr int kSuccess = 0;
constexpr unsigned kClockSm = 1, kClockMem = 2, kTemperatureGpu = 0;

class NvmlSource final : public GpuStateSource {
 public:
  NvmlSource() {
    lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib_ == nullptr) {
      const char* e = dlerror();
      why_ = std::string("nvml unavailable: ") + (e ? e : "libnvidia-ml.so.1 not found");
      return;
    }
    bool all = load(init_, "nvmlInit_v2") && load(by_index_, "nvmlDeviceGetHandleByIndex_v2") &&
               load(clock_, "nvmlDeviceGetClockInfo") && load(temperature_, "nvmlDeviceGetTemperature") &&
               load(power_, "nvmlDeviceGetPowerUsage") && (load(reasons_, "nvmlDeviceGetCurrentClocksEventReasons") ||  // the newer name
                load(reasons_, "nvmlDeviceGetCurrentClocksThrottleReasons")) &&
               load(name_, "nvmlDeviceGetName") && load(uuid_, "nvmlDeviceGetUUID") &&
               load(driver_, "nvmlSystemGetDriverVersion");
    load(by_pci_, "nvmlDeviceGetHandleByPciBusId_v2");  // optional: by index without it
    if (!all) {
      why_ = "nvml unavailable: libnvidia-ml.so.1 lacks an entry point the harness needs";
      return;
    }
    if (const int rc = init_(); rc != kSuccess) why_ = "nvml unavailable: nvmlInit failed (error " + std::to_string(rc) + ")";
  }

  std::string unavailable() const override { return why_; }

  v1::GpuSample sample(const std::string& pci_bus_id, int index) const override {
    v1::GpuSample s;
    Device d = device(pci_bus_id, index);
    if (d == nullptr) return s;
    unsigned sm = 0, mem = 0, temp = 0, mw = 0;
    unsigned long long reasons = 0;
    const bool ok = clock_(d, kClockSm, &sm) == kSuccess && clock_(d, kClockMem, &mem) == kSuccess &&
                    temperature_(d, kTemperatureGpu, &temp) == kSuccess && reasons_(d, &reasons) == kSuccess;
    if (!ok) return s;
    s.set_available(true);
    s.set_sm_clock_mhz(sm);
    s.set_memory_clock_mhz(mem);
    s.set_temperature_c(temp);
    if (power_(d, &mw) == kSuccess) s.set_power_w(mw / 1000.0);  // not every board reports power
    s.set_throttle_reasons(reasons);
    return s;
  }

  GpuIdentity identity(const std::string& pci_bus_id, int index) const override {
    GpuIdentity id;
    char buf[96] = {0};
    if (driver_ && driver_(buf, sizeof buf) == kSuccess) id.driver_version = buf;
    Device d = device(pci_bus_id, index);
    if (d == nullptr) return id;
    if (name_(d, buf, sizeof buf) == kSuccess) id.name = buf;
    if (uuid_(d, buf, sizeof buf) == kSuccess) id.uuid = buf;
    return id;
  }

 private:
  template <typename F>
  bool load(F& f, const char* symbol) {
    f = reinterpret_cast<F>(dlsym(lib_, symbol));
    return f != nullptr;
  }

  // CUDA and NVML number devices differently (CUDA_VISIBLE_DEVICES, ordering): by PCI bus id.
  Device device(const std::string& pci_bus_id, int index) const {
    if (!why_.empty()) return nullptr;
    Device d = nullptr;
    if (!pci_bus_id.empty() && by_pci_) return by_pci_(pci_bus_id.c_str(), &d) == kSuccess ? d : nullptr;
    return index >= 0 && by_index_(static_cast<unsigned>(index), &d) == kSuccess ? d : nullptr;
  }

  void* lib_ = nullptr;
  std::string why_;
  int (*init_)() = nullptr;
  int (*by_index_)(unsigned, Device*) = nullptr;
  int (*by_pci_)(const char*, Device*) = nullptr;
  int (*clock_)(Device, unsigned, unsigned*) = nullptr;
  int (*temperature_)(Device, unsigned, unsigned*) = nullptr;
  int (*power_)(Device, unsigned*) = nullptr;
  int (*reasons_)(Device, unsigned long long*) = nullptr;
  int (*name_)(Device, char*, unsigned) = nullptr;
  int (*uuid_)(Device, char*, unsigned) = nullptr;
  int (*driver_)(char*, unsigned) = nullptr;
};

}  // namespace

const GpuStateSource& nvml_state_source() {
  static const NvmlSource source;  // never unloaded: NVML stays initialised for the process
  return source;
}

}  // namespace ligerbench
