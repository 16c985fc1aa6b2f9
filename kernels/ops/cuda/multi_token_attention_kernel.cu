// Multi-token attention's row kernels (KERNELS.md section 8): causal mask + softmax or sparsemax,
// and their backward, one block a row. A block streams its row from global memory in passes
// (max and sum, then the write), so no row length is too long: Liger's mask kernels tile
// next_pow2(L) x next_pow2(L) per program and stop at L = 1024. The masked tail j > i is never
// read and is written as exact zeros. Math in fp32, results rounded once.
#include <cuda_runtime.h>

#include <algorithm>

#include "../common/sparsemax_search.h"
#include "cuda_utils.cuh"
#include "multi_token_attention_launch.h"

namespace liger::cuda {
namespace {

constexpr int64_t kMaxBlocks = int64_t{1} << 20;  // rows beyond this loop (grid-stride)

template <typename T>
__global__ void softmax_rows(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t len) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t valid = row % len + 1;
    const T* xr = x + row * len;
    T* yr = y + row * len;
    // Online max and sum of exp over the thread's elements, then combined over the block.
    float m = -INFINITY, s = 0.f;
    for (int64_t j = threadIdx.x; j < valid; j += blockDim.x) {
      const float v = to_float(xr[j]);
      if (v > m) {
        s = s * expf(m - v) + 1.f;
        m = v;
      } else if (m != -INFINITY) {
        s += expf(v - m);
      }
    }
    const float row_max = block_max(m, scratch);
    const float row_sum = block_sum(m == -INFINITY ? 0.f : s * expf(m - row_max), scratch);
    const float inv = 1.f / row_sum;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
      yr[j] = j < valid ? from_float<T>(expf(to_float(xr[j]) - row_max) * inv) : from_float<T>(0.f);
  }
}

template <typename T>
__global__ void sparsemax_rows(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t len) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t valid = row % len + 1;
    const T* xr = x + row * len;
    T* yr = y + row * len;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < valid; j += blockDim.x) m = fmaxf(m, to_float(xr[j]));
    const float row_max = block_max(m, scratch);
    // Every thread gets the same block sums, so every thread takes the same search steps.
    SparsemaxSearch<float> search;
    for (bool done = false; !done;) {
      const float lo = search.lo, mid = search.mid();
      float sum_above = 0.f, count_above = 0.f, f_mid = 0.f;
      for (int64_t j = threadIdx.x; j < valid; j += blockDim.x) {
        const float z = to_float(xr[j]) - row_max;
        if (z > lo) {
          sum_above += z;
          count_above += 1.f;
        }
        f_mid += fmaxf(z - mid, 0.f);
      }
      sum_above = block_sum(sum_above, scratch);
      count_above = block_sum(count_above, scratch);
      f_mid = block_sum(f_mid, scratch);
      done = search.update(sum_above, count_above, f_mid);
    }
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
      yr[j] = from_float<T>(j < valid ? fmaxf(to_float(xr[j]) - row_max - search.tau, 0.f) : 0.f);
  }
}

// dS = P (dP - sum_j dP P), over g in place; each element is read and written by one thread.
template <typename T>
__global__ void softmax_rows_backward(T* __restrict__ g, const T* __restrict__ p, int64_t rows, int64_t len) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t valid = row % len + 1;
    T* gr = g + row * len;
    const T* pr = p + row * len;
    float dot = 0.f;
    for (int64_t j = threadIdx.x; j < valid; j += blockDim.x) dot += to_float(gr[j]) * to_float(pr[j]);
    dot = block_sum(dot, scratch);
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
      gr[j] = from_float<T>(j < valid ? to_float(pr[j]) * (to_float(gr[j]) - dot) : 0.f);
  }
}

// Sparsemax's backward: dS = dP - mean over {P > 0} (the mean rounded to T, as Liger's kernel).
template <typename T>
__global__ void sparsemax_rows_backward(T* __restrict__ g, const T* __restrict__ p, int64_t rows, int64_t len) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t valid = row % len + 1;
    T* gr = g + row * len;
    const T* pr = p + row * len;
    float sum = 0.f, count = 0.f;
    for (int64_t j = threadIdx.x; j < valid; j += blockDim.x)
      if (to_float(pr[j]) > 0.f) {
        sum += to_float(gr[j]);
        count += 1.f;
      }
    sum = block_sum(sum, scratch);
    count = block_sum(count, scratch);
    const float mean = round_to<T>(sum / fmaxf(count, 1e-6f));
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
      gr[j] = from_float<T>(j < valid && to_float(pr[j]) > 0.f ? to_float(gr[j]) - mean : 0.f);
  }
}

// A quarter of the row per thread pass at least, 32..256 threads.
dim3 block_for(int64_t len) {
  const int64_t want = ((len + 3) / 4 + 31) / 32 * 32;
  return dim3(unsigned(std::min<int64_t>(256, std::max<int64_t>(32, want))));
}

dim3 grid_for(int64_t rows) { return dim3(unsigned(std::min(rows, kMaxBlocks))); }

template <typename T>
cudaError_t launch_forward(const MtaProbsArgs& a, cudaStream_t stream) {
  const T* x = static_cast<const T*>(a.scores);
  T* y = static_cast<T*>(a.probs);
  if (a.sparse)
    sparsemax_rows<T><<<grid_for(a.rows), block_for(a.len), 0, stream>>>(x, y, a.rows, a.len);
  else
    softmax_rows<T><<<grid_for(a.rows), block_for(a.len), 0, stream>>>(x, y, a.rows, a.len);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_backward(const MtaProbsBackwardArgs& a, cudaStream_t stream) {
  T* g = static_cast<T*>(a.grad);
  const T* p = static_cast<const T*>(a.probs);
  if (a.sparse)
    sparsemax_rows_backward<T><<<grid_for(a.rows), block_for(a.len), 0, stream>>>(g, p, a.rows, a.len);
  else
    softmax_rows_backward<T><<<grid_for(a.rows), block_for(a.len), 0, stream>>>(g, p, a.rows, a.len);
  return cudaGetLastError();
}

}  // namespace

cudaError_t mta_probs(const MtaProbsArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.len == 0) return cudaSuccess;
  switch (a.dtype) {
    case DType::kF32: return launch_forward<float>(a, stream);
    case DType::kF16: return launch_forward<__half>(a, stream);
    default: return launch_forward<__nv_bfloat16>(a, stream);
  }
}

cudaError_t mta_probs_backward(const MtaProbsBackwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.len == 0) return cudaSuccess;
  switch (a.dtype) {
    case DType::kF32: return launch_backward<float>(a, stream);
    case DType::kF16: return launch_backward<__half>(a, stream);
    default: return launch_backward<__nv_bfloat16>(a, stream);
  }
}

}  // namespace liger::cuda
