// Probe (GPU node): the cross-entropy row kernel under other row splits than the launcher's own
// (cluster size, CTA size), through ce_forward_with_split, timed like the harness (L2 emptied by a
// memset before each run, median of 30), beside a device copy of the same bytes. Shapes: FLCE's
// bf16 chunk (2048 x 128256) and the fp32 loss (8192 x 128256). Decision log:
// docs/perf/cross_entropy.md. Run: build-gpu/probes/probe_ce_split
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cross_entropy_launch.h"
#include "probe_timing.h"

namespace {

using liger::cuda::DType;

struct Flush {
  void* buffer = nullptr;
  size_t bytes = 120ull << 20;  // above the H200's 60 MB L2
};

// Median of `runs` timed launches, each after a memset of the flush buffer.
template <typename F>
float median_ms(F&& launch, const Flush& flush, int runs = 30) {
  const auto flush_l2 = [&](int i) { CHECK(cudaMemsetAsync(flush.buffer, i & 0xff, flush.bytes)); };
  return static_cast<float>(median_ms_of(flush_l2, launch, runs, nullptr));
}

template <typename T> T host_value(float v);
template <> float host_value<float>(float v) { return v; }
template <> __nv_bfloat16 host_value<__nv_bfloat16>(float v) { return __float2bfloat16(v); }

// One shape: the copy of the same bytes, then every split the kernel accepts. The logits are
// overwritten by the gradient on every run, which keeps each run's bytes the same.
template <typename T>
void sweep(const char* name, DType dtype, int64_t rows, int64_t cols, const Flush& flush) {
  const size_t n = rows * cols;
  void *logits, *copy;
  int64_t* target;
  double* stats;
  float* loss;
  CHECK(cudaMalloc(&logits, n * sizeof(T)));
  CHECK(cudaMalloc(&copy, n * sizeof(T)));
  CHECK(cudaMalloc(&target, rows * sizeof(int64_t)));
  CHECK(cudaMalloc(&stats, liger::kCeNumStats * sizeof(double)));
  CHECK(cudaMalloc(&loss, rows * sizeof(float)));
  {
    std::vector<T> h(n);
    for (size_t i = 0; i < n; ++i) h[i] = host_value<T>(static_cast<float>((i * 2654435761u) % 2000) / 200.f - 5.f);
    CHECK(cudaMemcpy(logits, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
    std::vector<int64_t> ht(rows);
    for (int64_t r = 0; r < rows; ++r) ht[r] = (r * 7919) % cols;
    CHECK(cudaMemcpy(target, ht.data(), rows * sizeof(int64_t), cudaMemcpyHostToDevice));
    // N, W_sum, weight total, first bad row: every row counts, unweighted, no bad target.
    const double hs[liger::kCeNumStats] = {double(rows), double(rows), 0.0, double(rows)};
    CHECK(cudaMemcpy(stats, hs, sizeof(hs), cudaMemcpyHostToDevice));
  }
  const double bytes = 2.0 * n * sizeof(T);  // one read of the logits, one write of the gradient
  const float copy_ms =
      median_ms([&] { CHECK(cudaMemcpyAsync(copy, logits, n * sizeof(T), cudaMemcpyDeviceToDevice)); }, flush);
  std::printf("%s %ldx%ld: copy %.4f ms %5.0f GB/s\n", name, static_cast<long>(rows), static_cast<long>(cols), copy_ms,
              bytes / copy_ms / 1e6);

  liger::cuda::CeForwardArgs args{};
  args.logits = logits;
  args.rows = rows;
  args.cols = cols;
  args.row_stride = cols;
  args.dtype = dtype;
  args.target = target;
  args.stats = stats;
  args.loss = loss;
  args.options.compute_grad = true;
  const auto launch = [&](const liger::cuda::CeRowSplit& split) {
    return liger::cuda::ce_forward_with_split(args, split, nullptr);
  };
  CHECK(liger::cuda::ce_forward(args, nullptr));
  std::printf("  launcher's own split: %.4f ms\n", median_ms([&] { CHECK(liger::cuda::ce_forward(args, nullptr)); }, flush));
  for (int cluster : {2, 4, 8, 16})
    for (int packs_per_thread : {4, 8, 16}) {
      const liger::cuda::CeRowSplit split{cluster, packs_per_thread};
      if (launch(split) != cudaSuccess) {
        cudaGetLastError();
        std::printf("  cluster %2d, %2d packs a thread: not launchable\n", cluster, packs_per_thread);
        continue;
      }
      const float t = median_ms([&] { CHECK(launch(split)); }, flush);
      std::printf("  cluster %2d, %2d packs a thread: %.4f ms %5.0f GB/s\n", cluster, packs_per_thread, t,
                  bytes / t / 1e6);
    }
  CHECK(cudaFree(logits));
  CHECK(cudaFree(copy));
  CHECK(cudaFree(target));
  CHECK(cudaFree(stats));
  CHECK(cudaFree(loss));
}

}  // namespace

int main() {
  Flush flush;
  CHECK(cudaMalloc(&flush.buffer, flush.bytes));
  sweep<__nv_bfloat16>("bf16", DType::kBF16, 2048, 128256, flush);
  sweep<float>("fp32", DType::kF32, 8192, 128256, flush);
  CHECK(cudaFree(flush.buffer));
  return 0;
}
