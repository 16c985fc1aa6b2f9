// Final sum of the per-block partials of the KL and JSD reductions.
#include "divergence_reduce.h"
#include "divergence_utils.cuh"

namespace liger::cuda {
namespace {

constexpr int kThreads = 256;
// Blocks per SM of the reducing kernels (256 threads: 8 fill an SM's 2048 thread slots).
constexpr int kMaxBlocksPerSm = 8;

template <typename Out>
__global__ void __launch_bounds__(kThreads) finish_sum_kernel(const double* __restrict__ partials, int count,
                                                              double scale, const int64_t* __restrict__ n_valid,
                                                              Out* __restrict__ out) {
  __shared__ double scratch[32];
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += kThreads) s += partials[i];
  s = block_sum_double(s, scratch);
  if (threadIdx.x == 0) {
    s *= scale;
    if (n_valid != nullptr) s = *n_valid > 0 ? s / static_cast<double>(*n_valid) : 0.0;
    *out = from_float<Out>(static_cast<float>(s));
  }
}

}  // namespace

int reduce_partials_capacity() { return kMaxBlocksPerSm * num_sms(); }

cudaError_t finish_sum(const double* partials, int count, double scale, const int64_t* n_valid, void* out,
                       DType out_dtype, cudaStream_t stream) {
  return dispatch_dtype(out_dtype, [&](auto tag) {
    using T = decltype(tag);
    finish_sum_kernel<T><<<1, kThreads, 0, stream>>>(partials, count, scale, n_valid, static_cast<T*>(out));
    return cudaGetLastError();
  });
}

}  // namespace liger::cuda
