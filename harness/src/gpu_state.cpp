// What the harness makes of sampled GPU state: the throttle flag of a case, the node's identity.
#include "ligerbench/gpu_state.h"

#include <algorithm>
#include <utility>

namespace ligerbench {

std::vector<std::string> throttle_names(uint64_t reasons) {
  // nvmlClocksThrottleReason* (nvml.h), in bit order.
  static const char* const kNames[] = {"gpu_idle",   "applications_clocks", "sw_power_cap",   "hw_slowdown",
                                       "sync_boost", "sw_thermal",          "hw_thermal",     "hw_power_brake",
                                       "display_clocks"};
  std::vector<std::string> out;
  for (std::size_t bit = 0; bit < std::size(kNames); ++bit)
    if (reasons & (uint64_t{1} << bit)) out.push_back(kNames[bit]);
  return out;
}

namespace {

v1::GpuSample sampled(const GpuStateSource& src, const std::string& pci_bus_id, int index) {
  v1::GpuSample s = src.sample(pci_bus_id, index);
  s.clear_throttle_names();
  for (const auto& name : throttle_names(s.throttle_reasons())) s.add_throttle_names(name);
  return s;
}

bool held_down(const v1::GpuSample& s) { return s.available() && (s.throttle_reasons() & kClocksHeldDown) != 0; }

}  // namespace

void record_gpu_before(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::CaseResult& r) {
  if (src.unavailable().empty()) r.set_device_uuid(src.identity(pci_bus_id, index).uuid);
  *r.mutable_gpu_before() = sampled(src, pci_bus_id, index);
  r.set_throttled(held_down(r.gpu_before()));
}

void record_gpu_after(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::CaseResult& r,
                      std::vector<v1::GpuSample> during) {
  *r.mutable_gpu_after() = sampled(src, pci_bus_id, index);
  bool throttled = held_down(r.gpu_before()) || held_down(r.gpu_after());
  for (auto& s : during) {
    throttled = throttled || held_down(s);
    *r.add_gpu_during() = std::move(s);
  }
  r.set_throttled(throttled);
}

GpuStateSampler::GpuStateSampler(const GpuStateSource& src, std::string pci_bus_id, int index,
                                 std::chrono::milliseconds interval, std::size_t max_samples)
    : src_(src), bus_(std::move(pci_bus_id)), index_(index), interval_(interval), max_(std::max<std::size_t>(2, max_samples)) {
  if (src_.unavailable().empty()) thread_ = std::thread([this] { loop(); });
}

GpuStateSampler::~GpuStateSampler() { stop(); }

std::vector<v1::GpuSample> GpuStateSampler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  return std::move(samples_);
}

void GpuStateSampler::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    v1::GpuSample s = sampled(src_, bus_, index_);  // NVML's call outside the lock: stop() never waits on it
    lock.lock();
    samples_.push_back(std::move(s));
    if (samples_.size() < max_) continue;
    // Full: keep every other sample (the oldest first), sample half as often from now on.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < samples_.size(); i += 2) samples_[kept++] = std::move(samples_[i]);
    samples_.resize(kept);
    interval_ *= 2;
  }
}

void record_gpu_identity(const GpuStateSource& src, const std::string& pci_bus_id, int index, v1::NodeInfo& n) {
  const std::string why = src.unavailable();
  n.set_nvml(why.empty() ? "ok" : why);
  if (!why.empty()) return;
  const GpuIdentity id = src.identity(pci_bus_id, index);
  n.set_gpu_name(id.name);
  n.set_gpu_uuid(id.uuid);
  n.set_gpu_driver_version(id.driver_version);
}

}  // namespace ligerbench
