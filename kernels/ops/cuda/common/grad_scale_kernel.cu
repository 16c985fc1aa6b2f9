// out = in * (*scale) on CUDA. ATen's mul would take the 0-dim CUDA upstream gradient as a
// stride-0 operand, which keeps its elementwise loop off the vectorized path; this kernel reads
// the scalar once per thread and moves the gradient with 16-byte streaming accesses.
#include "divergence_utils.cuh"
#include "grad_scale_launch.h"

namespace liger::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads)
grad_scale_kernel(const T* in, T* out, const float* __restrict__ scale, int64_t n) {
  const float g = *scale;
  const int64_t packs = n / VEC;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads * kUnroll;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * kThreads * kUnroll + threadIdx.x; base < packs;
       base += step) {
    Pack<T, VEC> v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * kThreads;
      if (i < packs) v[u] = load_stream<T, VEC>(in + i * VEC);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * kThreads;
      if (i < packs) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) v[u].v[k] = from_float<T>(to_float(v[u].v[k]) * g);
        store_stream<T, VEC>(out + i * VEC, v[u]);
      }
    }
  }
  if (blockIdx.x == 0)
    for (int64_t i = packs * VEC + threadIdx.x; i < n; i += kThreads) out[i] = from_float<T>(to_float(in[i]) * g);
}

template <typename T, int VEC>
cudaError_t launch(const GradScaleArgs& a, cudaStream_t s) {
  auto kernel = grad_scale_kernel<T, VEC>;
  const int64_t work = (a.n / VEC + kThreads * kUnroll - 1) / (kThreads * kUnroll);
  const int blocks = persistent_blocks(kernel, kThreads, work, INT32_MAX);
  kernel<<<blocks, kThreads, 0, s>>>(static_cast<const T*>(a.in), static_cast<T*>(a.out), a.scale, a.n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_typed(const GradScaleArgs& a, cudaStream_t s) {
  return aligned16(a.in) && aligned16(a.out) ? launch<T, 16 / sizeof(T)>(a, s) : launch<T, 1>(a, s);
}

}  // namespace

cudaError_t grad_scale(const GradScaleArgs& a, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  return dispatch_dtype(a.dtype, [&](auto tag) { return launch_typed<decltype(tag)>(a, stream); });
}

}  // namespace liger::cuda
