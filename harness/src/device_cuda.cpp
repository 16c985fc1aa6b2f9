// gpu_backend() on a CUDA LibTorch: events, caching-allocator statistics, L2 flush, graphs.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/cuda/Sleep.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "ligerbench/device.h"

namespace ligerbench {
namespace {

// Index of the aggregate pool in the allocator's per-pool statistics (StatType::AGGREGATE).
constexpr std::size_t kAggregate = 0;

class CudaBackend final : public GpuBackend {
 public:
  int device_count() const override {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
  }
  std::string device_name(int device) const override {
    cudaDeviceProp p{};
    return cudaGetDeviceProperties(&p, device) == cudaSuccess ? std::string(p.name) : std::string("unknown");
  }
  std::string pci_bus_id(int device) const override {
    char buf[32] = {0};
    return cudaDeviceGetPCIBusId(buf, sizeof buf, device) == cudaSuccess ? std::string(buf) : std::string();
  }
  std::string driver_version() const override {
    int v = 0;
    cudaDriverGetVersion(&v);
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
  }
  std::string runtime_version() const override {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
  }
  int64_t total_memory(int device) const override {
    cudaDeviceProp p{};
    return cudaGetDeviceProperties(&p, device) == cudaSuccess ? static_cast<int64_t>(p.totalGlobalMem) : 0;
  }
  void synchronize(int device) const override {
    c10::cuda::CUDAGuard g(device);
    AT_CUDA_CHECK(cudaDeviceSynchronize());
  }
  void empty_cache() const override { c10::cuda::CUDACachingAllocator::emptyCache(); }
  void reset_peak_memory(int device) const override { c10::cuda::CUDACachingAllocator::resetPeakStats(device); }
  int64_t allocated_bytes(int device) const override {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device).allocated_bytes[kAggregate].current;
  }
  int64_t peak_allocated_bytes(int device) const override {
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device).allocated_bytes[kAggregate].peak;
  }

  std::vector<double> time_runs(int device, const std::function<void()>& fn, int n, L2Flush flush,
                                double hold_ms) const override {
    c10::cuda::CUDAGuard g(device);
    const int64_t hold_cycles = hold_ms > 0 ? static_cast<int64_t>(hold_ms * spin_cycles_per_ms(device)) : 0;
    at::Tensor buffer, sink;
    if (flush != L2Flush::kNone) buffer = flush_buffer(device);
    // The clean flush reads the buffer (a sum of it as int32 words): L2 is left holding clean lines.
    if (flush == L2Flush::kClean) sink = at::empty({}, buffer.options().dtype(at::kLong));
    std::vector<at::cuda::CUDAEvent> starts, stops;
    starts.reserve(n);
    stops.reserve(n);
    for (int i = 0; i < n; ++i) {
      starts.emplace_back(cudaEventDefault);
      stops.emplace_back(cudaEventDefault);
    }
    auto stream = at::cuda::getCurrentCUDAStream();
    for (int i = 0; i < n; ++i) {
      if (hold_cycles > 0) at::cuda::sleep(hold_cycles);
      if (flush == L2Flush::kMemset) AT_CUDA_CHECK(cudaMemsetAsync(buffer.data_ptr(), i & 0xff, buffer.nbytes(), stream));
      if (flush == L2Flush::kClean) at::sum_out(sink, buffer.view(at::kInt));
      starts[i].record(stream);
      fn();
      stops[i].record(stream);
    }
    stops.back().synchronize();
    std::vector<double> ms(n);
    for (int i = 0; i < n; ++i) ms[i] = starts[i].elapsed_time(stops[i]);
    return ms;
  }

  std::function<void()> capture_graph(int device, const std::function<void()>& fn) const override {
    c10::cuda::CUDAGuard g(device);
    // Captured on a side stream (the legacy default stream cannot capture), after one run there:
    // per-stream state (cuBLAS workspaces) is then set up outside the capture.
    at::cuda::CUDAStream side = at::cuda::getStreamFromPool(/*isHighPriority=*/false, device);
    AT_CUDA_CHECK(cudaDeviceSynchronize());
    auto graph = std::make_shared<at::cuda::CUDAGraph>();
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      fn();
      AT_CUDA_CHECK(cudaStreamSynchronize(side.stream()));
      graph->capture_begin();
      std::string why;
      try {
        fn();
      } catch (const c10::Error& e) {
        why = e.what_without_backtrace();
      } catch (const std::exception& e) {
        why = e.what();
      }
      try {
        graph->capture_end();  // also after a failure: ends the capture and the allocator's graph pool
      } catch (const c10::Error& e) {
        if (why.empty()) why = e.what_without_backtrace();
      }
      if (!why.empty()) {
        (void)cudaGetLastError();  // the capture's error is reported here, not by the next CUDA call
        reset_generator_after_failed_capture(device);
        throw std::runtime_error("the region cannot be captured in a CUDA graph: " + why.substr(0, why.find('\n')));
      }
    }
    return [graph] { graph->replay(); };
  }

 private:
  // capture_begin puts the device's default generator in capture mode and capture_end takes it
  // out, but only after cudaStreamEndCapture succeeded: a capture the CUDA runtime invalidated
  // (an event query, a host sync) leaves the generator capturing, and every later random op on
  // the device fails ("Offset increment outside graph capture"). The generator is given a fresh
  // state at the same seed and offset, so the next case draws what it would have drawn.
  static void reset_generator_after_failed_capture(int device) {
    at::Generator gen = at::cuda::detail::getDefaultCUDAGenerator(static_cast<c10::DeviceIndex>(device));
    std::lock_guard<std::mutex> lock(gen.mutex());
    auto* impl = gen.get<at::CUDAGeneratorImpl>();
    auto fresh = c10::make_intrusive<at::CUDAGeneratorImpl>(static_cast<c10::DeviceIndex>(device));
    fresh->set_current_seed(impl->current_seed());
    fresh->set_philox_offset_per_thread(impl->philox_offset_per_thread());
    impl->graphsafe_set_state(fresh);
  }

  // How many cycles of at::cuda::sleep's spin take a millisecond on `device`, measured once after
  // a first spin (which loads the kernel's module: that must not count). The fastest of three
  // 1M-cycle spins gives the highest rate, so that a hold errs long when the clock moves.
  double spin_cycles_per_ms(int device) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = spin_rate_.find(device);
    if (it != spin_rate_.end()) return it->second;
    constexpr int64_t kCycles = 1 << 20;
    auto stream = at::cuda::getCurrentCUDAStream();
    at::cuda::sleep(1024);
    AT_CUDA_CHECK(cudaStreamSynchronize(stream.stream()));
    double shortest_ms = 1e9;
    for (int i = 0; i < 3; ++i) {
      at::cuda::CUDAEvent a(cudaEventDefault), b(cudaEventDefault);
      a.record(stream);
      at::cuda::sleep(kCycles);
      b.record(stream);
      b.synchronize();
      shortest_ms = std::min<double>(shortest_ms, a.elapsed_time(b));
    }
    const double rate = static_cast<double>(kCycles) / std::max(shortest_ms, 1e-3);
    spin_rate_[device] = rate;
    return rate;
  }
  // Twice the L2 size, allocated once per device outside any measured region.
  at::Tensor flush_buffer(int device) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = flush_.find(device);
    if (it != flush_.end()) return it->second;
    int l2 = 0;
    cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device);
    at::Tensor t = at::empty({std::max<int64_t>(2LL * l2, 1 << 20)}, at::TensorOptions().dtype(at::kByte).device(at::kCUDA, device));
    flush_[device] = t;
    return t;
  }
  mutable std::mutex mu_;
  mutable std::map<int, at::Tensor> flush_;
  mutable std::map<int, double> spin_rate_;
};

}  // namespace

const GpuBackend* gpu_backend() {
  static CudaBackend backend;
  static const bool available = backend.device_count() > 0;
  return available ? &backend : nullptr;
}

}  // namespace ligerbench
