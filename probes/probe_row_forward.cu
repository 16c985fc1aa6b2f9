// Probe (GPU node): the row forwards' launchers (rms_norm, layer_norm, softmax) timed against
// copies of the same bytes, outside LibTorch and the harness, with two ways of emptying L2.
//
// Why: the harness empties L2 before every run with a memset of twice its size (as triton's
// do_bench does), which leaves L2 full of dirty lines that the timed kernel must write back. This
// probe shows what that costs a copy of the kernel's size, and how far each kernel is from such a
// copy, without any host-side overhead in the timed region.
//
//   build-gpu/probes/probe_row_forward       (built by CMake with the rest: probes/CMakeLists.txt)
//
// Prints, per L2 mode, the median of 60 runs (ms), GB/s and the fraction of a 1 GiB memcpy's
// bandwidth, at 8192 rows of bf16 and several row lengths (4096, 2048 and 1024 fill every lane of
// the warp kernels, 4000, 2040 and 1016 do not).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "layer_norm_launch.h"
#include "rms_norm_launch.h"
#include "probe_timing.h"
#include "row_op_launch.h"

namespace {

using liger::cuda::DType;

// Reads a buffer and discards it: empties L2 of the probe's data and leaves it clean.
__global__ void read_all(const uint4* __restrict__ p, int64_t n, unsigned* sink) {
  unsigned acc = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint4 v = p[i];
    acc ^= v.x ^ v.w;
  }
  if (acc == 0x9e3779b9u) *sink = acc;  // never true for the zeroed buffer; keeps the loads
}

enum class L2Mode { kMemsetFlush, kReadFlush };

struct Timer {
  cudaStream_t stream = nullptr;
  void* flush = nullptr;
  size_t flush_bytes = 0;
  unsigned* sink = nullptr;
  L2Mode mode = L2Mode::kMemsetFlush;

  template <typename F>
  double median_ms(F&& launch, int runs = 60) {
    const auto flush_l2 = [&](int i) {
      if (mode == L2Mode::kMemsetFlush) CHECK(cudaMemsetAsync(flush, i & 0xff, flush_bytes, stream));
      else read_all<<<132 * 8, 512, 0, stream>>>(static_cast<const uint4*>(flush), flush_bytes / 16, sink);
    };
    return median_ms_of(flush_l2, launch, runs, stream);
  }
};

void report(const char* what, int cols, double ms, double bytes, double copy_gbs) {
  const double gbs = bytes / ms / 1e6;
  std::printf("  %-28s H %-5d %.4f ms  %5.0f GB/s  %5.1f%% of 1 GiB copy\n", what, cols, ms, gbs, 100 * gbs / copy_gbs);
}

}  // namespace

int main() {
  constexpr int64_t kRows = 8192, kMaxCols = 4096;
  int l2 = 0;
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  std::printf("%s, %d SMs, L2 %d MiB\n", prop.name, prop.multiProcessorCount, l2 >> 20);

  Timer timer;
  timer.flush_bytes = 2ull * l2;
  CHECK(cudaMalloc(&timer.flush, timer.flush_bytes));
  CHECK(cudaMemset(timer.flush, 0, timer.flush_bytes));
  CHECK(cudaMalloc(&timer.sink, sizeof(unsigned)));

  const size_t n = kRows * kMaxCols;
  __nv_bfloat16 *x, *y, *w_bf16;
  float *w_f32, *stat_a, *stat_b;
  CHECK(cudaMalloc(&x, n * 2));
  CHECK(cudaMalloc(&y, n * 2));
  CHECK(cudaMalloc(&w_bf16, kMaxCols * 2));
  CHECK(cudaMalloc(&w_f32, kMaxCols * 4));
  CHECK(cudaMalloc(&stat_a, kRows * 4));
  CHECK(cudaMalloc(&stat_b, kRows * 4));
  {
    std::vector<__nv_bfloat16> h(n), hw(kMaxCols);
    for (size_t i = 0; i < n; ++i) h[i] = __float2bfloat16(static_cast<float>((i * 2654435761u) % 1000) / 500.f - 1.f);
    for (int i = 0; i < kMaxCols; ++i) hw[i] = __float2bfloat16(1.f + 0.001f * i);
    CHECK(cudaMemcpy(x, h.data(), n * 2, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(w_bf16, hw.data(), kMaxCols * 2, cudaMemcpyHostToDevice));
    CHECK(cudaMemset(w_f32, 0, kMaxCols * 4));
  }
  void *big_src, *big_dst;
  const size_t big = size_t{1} << 30;
  CHECK(cudaMalloc(&big_src, big));
  CHECK(cudaMalloc(&big_dst, big));

  for (const L2Mode mode : {L2Mode::kMemsetFlush, L2Mode::kReadFlush}) {
    timer.mode = mode;
    std::printf("L2 emptied by %s\n", mode == L2Mode::kMemsetFlush ? "a memset of 2x its size (the harness)"
                                                                    : "a read of 2x its size (clean lines)");
    const double big_ms = timer.median_ms([&] { CHECK(cudaMemcpyAsync(big_dst, big_src, big, cudaMemcpyDeviceToDevice, timer.stream)); }, 20);
    const double copy_gbs = 2.0 * big / big_ms / 1e6;
    std::printf("  memcpy 1 GiB: %.4f ms, %.0f GB/s\n", big_ms, copy_gbs);
    for (const int64_t cols : {4096, 4000, 2048, 2040, 1024, 1016}) {
      const double bytes = 2.0 * kRows * cols * 2;  // read x, write y
      report("memcpy (same bytes)", cols,
             timer.median_ms([&] { CHECK(cudaMemcpyAsync(y, x, kRows * cols * 2, cudaMemcpyDeviceToDevice, timer.stream)); }),
             bytes, copy_gbs);
      liger::cuda::RmsNormForwardArgs rms{x, w_f32, y, stat_a, kRows, cols, DType::kBF16, DType::kF32, 1e-6f, 0.f,
                                          liger::RmsCasting::kLlama};
      report("rms_norm, fp32 weight", cols, timer.median_ms([&] { CHECK(rms_norm_forward(rms, timer.stream)); }), bytes, copy_gbs);
      rms.weight = w_bf16;
      rms.w_dtype = DType::kBF16;
      report("rms_norm, bf16 weight", cols, timer.median_ms([&] { CHECK(rms_norm_forward(rms, timer.stream)); }), bytes, copy_gbs);
      const liger::cuda::LayerNormForwardArgs ln{x, w_bf16, w_bf16, y, stat_a, stat_b, kRows, cols, DType::kBF16, DType::kBF16, 1e-6f};
      report("layer_norm", cols, timer.median_ms([&] { CHECK(layer_norm_forward(ln, timer.stream)); }), bytes, copy_gbs);
      const liger::cuda::RowForwardArgs sm{x, y, kRows, cols, DType::kBF16};
      report("softmax", cols, timer.median_ms([&] { CHECK(softmax_forward(sm, timer.stream)); }), bytes, copy_gbs);
    }
  }
  return 0;
}
