// Probe (GPU node): the cross-entropy row kernel under other row splits than the launcher's
// (cluster size, slice bytes, CTA size), timed like the harness (L2 emptied by a memset before each
// run, median of 30), beside a memcpy of the same bytes. Includes the kernel's source to reach its
// internals. Shapes: FLCE's bf16 chunk (2048 x 128256) and the fp32 loss (8192 x 128256).
//
//   cd kernels/ops/cuda && nvcc -std=c++17 -O3 -arch=sm_90a -I. -I.. -I../../include \
//     ../../../probes/probe_ce_split.cu -o /tmp/probe_ce && /tmp/probe_ce
#include "cross_entropy_kernel.cu"
#include <algorithm>
#include <cstdio>
#include <vector>
using namespace liger::cuda;
template <typename T> T from_float_host(float v);
template <> float from_float_host<float>(float v) { return v; }
template <> __nv_bfloat16 from_float_host<__nv_bfloat16>(float v) { return __float2bfloat16(v); }
template <typename F> float med(F f, void* fl, size_t fb, int n = 30) {
  cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b); std::vector<float> v;
  for (int i = 0; i < n + 3; ++i) { cudaMemsetAsync(fl, i & 0xff, fb); cudaEventRecord(a); f(); cudaEventRecord(b); cudaEventSynchronize(b);
    float t; cudaEventElapsedTime(&t, a, b); if (i >= 3) v.push_back(t); }
  std::sort(v.begin(), v.end()); return v[v.size() / 2];
}
template <typename T, int VEC>
void run(const char* name, int64_t rows, int64_t cols, void* fl, size_t fb) {
  void* x; cudaMalloc(&x, rows * cols * sizeof(T));
  std::vector<T> h(rows * cols); for (size_t i = 0; i < h.size(); ++i) h[i] = from_float_host<T>(((i * 2654435761u) % 2000) / 200.f - 5.f);
  cudaMemcpy(x, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice);
  int64_t* tg; cudaMalloc(&tg, rows * 8); std::vector<int64_t> ht(rows); for (int64_t r = 0; r < rows; ++r) ht[r] = (r * 7919) % cols;
  cudaMemcpy(tg, ht.data(), rows * 8, cudaMemcpyHostToDevice);
  double* st; cudaMalloc(&st, 4 * 8); double hs[4] = {double(rows), double(rows), 0, double(rows)}; cudaMemcpy(st, hs, 32, cudaMemcpyHostToDevice);
  float* loss; cudaMalloc(&loss, rows * 4);
  const double bytes = 2.0 * rows * cols * sizeof(T);
  void* y; cudaMalloc(&y, rows * cols * sizeof(T));
  float mc = med([&] { cudaMemcpyAsync(y, x, rows * cols * sizeof(T), cudaMemcpyDeviceToDevice); }, fl, fb);
  cudaFree(y);
  printf("%s %ldx%ld: memcpy %.4f ms %5.0f GB/s\n", name, (long)rows, (long)cols, mc, bytes / mc / 1e6);
  cudaFuncSetAttribute(ce_forward_kernel<T, VEC>, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxSliceBytes);
  cudaFuncSetAttribute(ce_forward_kernel<T, VEC>, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared);
  cudaFuncSetAttribute(ce_forward_kernel<T, VEC>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  const int64_t packs = cols / VEC; const int pb = VEC * sizeof(T);
  for (int cluster : {2, 4, 8, 16}) for (int ppt : {4, 8, 16}) {
    RowPlan p; p.cluster = cluster; p.slice_packs = (packs + cluster - 1) / cluster;
    if (p.slice_packs * pb > kMaxSliceBytes) continue;
    p.tile_packs = p.slice_packs; p.tiles = 1;
    int th = (p.tile_packs + ppt - 1) / ppt; th = (th + 31) / 32 * 32; if (th > 512) continue; p.threads = th; p.smem_bytes = p.tile_packs * pb;
    RowKernelArgs a{}; a.x = x; a.row_stride = cols; a.cols = cols; a.target = tg; a.stats = st; a.loss = loss; a.ignore_index = -100;
    a.mean = true; a.compute_grad = true; a.cluster = p.cluster; a.slice_packs = p.slice_packs; a.tile_packs = p.tile_packs; a.tiles = 1;
    cudaLaunchAttribute attr[1]; cudaLaunchConfig_t cfg = row_config(p, rows, 0, attr);
    cudaGetLastError();
    float t = med([&] { cudaLaunchKernelEx(&cfg, ce_forward_kernel<T, VEC>, a); }, fl, fb);
    cudaError_t e = cudaGetLastError();
    printf("  cluster %2d slice %3d KB threads %3d: %.4f ms %5.0f GB/s %s\n", cluster, p.smem_bytes >> 10, th, t, bytes / t / 1e6, e ? cudaGetErrorString(e) : "");
  }
  cudaFree(x); cudaFree(tg); cudaFree(st); cudaFree(loss);
}
int main() {
  void* fl; size_t fb = 120ull << 20; cudaMalloc(&fl, fb);
  run<__nv_bfloat16, 8>("bf16", 2048, 128256, fl, fb);
  run<float, 4>("fp32", 8192, 128256, fl, fb);
  return 0;
}
