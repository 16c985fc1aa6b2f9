// gpu_backend() on a CUDA LibTorch: events, caching-allocator statistics, L2 flush.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>

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

  std::vector<double> time_runs(int device, const std::function<void()>& fn, int n, bool flush_l2) const override {
    c10::cuda::CUDAGuard g(device);
    at::Tensor flush;
    if (flush_l2) flush = flush_buffer(device);
    std::vector<at::cuda::CUDAEvent> starts, stops;
    starts.reserve(n);
    stops.reserve(n);
    for (int i = 0; i < n; ++i) {
      starts.emplace_back(cudaEventDefault);
      stops.emplace_back(cudaEventDefault);
    }
    auto stream = at::cuda::getCurrentCUDAStream();
    for (int i = 0; i < n; ++i) {
      if (flush_l2) AT_CUDA_CHECK(cudaMemsetAsync(flush.data_ptr(), i & 0xff, flush.nbytes(), stream));
      starts[i].record(stream);
      fn();
      stops[i].record(stream);
    }
    stops.back().synchronize();
    std::vector<double> ms(n);
    for (int i = 0; i < n; ++i) ms[i] = starts[i].elapsed_time(stops[i]);
    return ms;
  }

 private:
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
};

}  // namespace

const GpuBackend* gpu_backend() {
  static CudaBackend backend;
  static const bool available = backend.device_count() > 0;
  return available ? &backend : nullptr;
}

}  // namespace ligerbench
