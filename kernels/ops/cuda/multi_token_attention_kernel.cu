// Multi-token attention's row kernels (KERNELS.md section 8): causal mask + softmax or sparsemax,
// and their backward, one block a row. A block streams its row from global memory in passes
// (max and sum, then the write), so no row length is too long: Liger's mask kernels tile
// next_pow2(L) x next_pow2(L) per program and stop at L = 1024. The masked tail j > i is never
// read (beyond the pack that holds j = i) and is written as exact zeros. Math in fp32, results
// rounded once.
#include <cuda_runtime.h>

#include <algorithm>

#include "../common/sparsemax_search.h"
#include "common/cuda_utils.cuh"
#include "multi_token_attention_launch.h"

namespace liger::cuda {
namespace {

constexpr int64_t kMaxBlocks = int64_t{1} << 20;  // rows beyond this loop (grid-stride)

// Elements move in packs of V (16 bytes when the row length and the pointers allow, else 1), so
// that a block keeps enough bytes in flight to stream at copy speed. A pack that straddles the
// end of the unmasked prefix keeps only its elements j < valid.
template <typename T, int V>
struct RowPacks {
  int64_t valid;        // unmasked prefix: keys j <= i
  int64_t valid_packs;  // packs holding at least one unmasked element
  int64_t packs;        // packs in the row (len % V == 0)
  __device__ RowPacks(int64_t row, int64_t len)
      : valid(row % len + 1), valid_packs((row % len + V) / V), packs(len / V) {}
};

template <typename T, int V>
__global__ void softmax_rows(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t len) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowPacks<T, V> rp(row, len);
    const T* xr = x + row * len;
    T* yr = y + row * len;
    // Online max and sum of exp over the thread's elements, then combined over the block.
    float m = -INFINITY, s = 0.f;
    for (int64_t p = threadIdx.x; p < rp.valid_packs; p += blockDim.x) {
      const Pack<T, V> v = load_pack<T, V>(xr + p * V);
#pragma unroll
      for (int q = 0; q < V; ++q) {
        if (p * V + q >= rp.valid) break;
        const float e = to_float(v.v[q]);
        if (e > m) {
          s = s * expf(m - e) + 1.f;
          m = e;
        } else if (m != -INFINITY) {
          s += expf(e - m);
        }
      }
    }
    const float row_max = block_max(m, scratch);
    const float row_sum = block_sum(m == -INFINITY ? 0.f : s * expf(m - row_max), scratch);
    const float inv = 1.f / row_sum;
    for (int64_t p = threadIdx.x; p < rp.packs; p += blockDim.x) {
      Pack<T, V> out;
      if (p < rp.valid_packs) {
        const Pack<T, V> v = load_pack<T, V>(xr + p * V);
#pragma unroll
        for (int q = 0; q < V; ++q)
          out.v[q] = from_float<T>(p * V + q < rp.valid ? expf(to_float(v.v[q]) - row_max) * inv : 0.f);
      } else {
#pragma unroll
        for (int q = 0; q < V; ++q) out.v[q] = from_float<T>(0.f);
      }
      store_pack<T, V>(yr + p * V, out);
    }
  }
}

template <typename T, int V>
__global__ void sparsemax_rows(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t len) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowPacks<T, V> rp(row, len);
    const T* xr = x + row * len;
    T* yr = y + row * len;
    float m = -INFINITY;
    for (int64_t p = threadIdx.x; p < rp.valid_packs; p += blockDim.x) {
      const Pack<T, V> v = load_pack<T, V>(xr + p * V);
#pragma unroll
      for (int q = 0; q < V; ++q)
        if (p * V + q < rp.valid) m = fmaxf(m, to_float(v.v[q]));
    }
    const float row_max = block_max(m, scratch);
    // Every thread gets the same block sums, so every thread takes the same search steps.
    SparsemaxSearch<float> search;
    for (bool done = false; !done;) {
      const float lo = search.lo, mid = search.mid();
      float sum_above = 0.f, count_above = 0.f, f_mid = 0.f;
      for (int64_t p = threadIdx.x; p < rp.valid_packs; p += blockDim.x) {
        const Pack<T, V> v = load_pack<T, V>(xr + p * V);
#pragma unroll
        for (int q = 0; q < V; ++q) {
          if (p * V + q >= rp.valid) break;
          const float z = to_float(v.v[q]) - row_max;
          if (z > lo) {
            sum_above += z;
            count_above += 1.f;
          }
          f_mid += fmaxf(z - mid, 0.f);
        }
      }
      sum_above = block_sum(sum_above, scratch);
      count_above = block_sum(count_above, scratch);
      f_mid = block_sum(f_mid, scratch);
      done = search.update(sum_above, count_above, f_mid);
    }
    for (int64_t p = threadIdx.x; p < rp.packs; p += blockDim.x) {
      Pack<T, V> out;
      if (p < rp.valid_packs) {
        const Pack<T, V> v = load_pack<T, V>(xr + p * V);
#pragma unroll
        for (int q = 0; q < V; ++q)
          out.v[q] = from_float<T>(p * V + q < rp.valid ? fmaxf(to_float(v.v[q]) - row_max - search.tau, 0.f) : 0.f);
      } else {
#pragma unroll
        for (int q = 0; q < V; ++q) out.v[q] = from_float<T>(0.f);
      }
      store_pack<T, V>(yr + p * V, out);
    }
  }
}

// dS = P (dP - sum_j dP P), over g in place; each pack is read and written by one thread.
template <typename T, int V>
__global__ void softmax_rows_backward(T* __restrict__ g, const T* __restrict__ p_in, int64_t rows, int64_t len) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowPacks<T, V> rp(row, len);
    T* gr = g + row * len;
    const T* pr = p_in + row * len;
    float dot = 0.f;
    for (int64_t p = threadIdx.x; p < rp.valid_packs; p += blockDim.x) {
      const Pack<T, V> gv = load_pack<T, V>(gr + p * V), pv = load_pack<T, V>(pr + p * V);
#pragma unroll
      for (int q = 0; q < V; ++q)
        if (p * V + q < rp.valid) dot += to_float(gv.v[q]) * to_float(pv.v[q]);
    }
    dot = block_sum(dot, scratch);
    for (int64_t p = threadIdx.x; p < rp.packs; p += blockDim.x) {
      Pack<T, V> out;
      if (p < rp.valid_packs) {
        const Pack<T, V> gv = load_pack<T, V>(gr + p * V), pv = load_pack<T, V>(pr + p * V);
#pragma unroll
        for (int q = 0; q < V; ++q)
          out.v[q] = from_float<T>(p * V + q < rp.valid ? to_float(pv.v[q]) * (to_float(gv.v[q]) - dot) : 0.f);
      } else {
#pragma unroll
        for (int q = 0; q < V; ++q) out.v[q] = from_float<T>(0.f);
      }
      store_pack<T, V>(gr + p * V, out);
    }
  }
}

// Sparsemax's backward: dS = dP - mean over {P > 0} (the mean rounded to T, as Liger's kernel).
template <typename T, int V>
__global__ void sparsemax_rows_backward(T* __restrict__ g, const T* __restrict__ p_in, int64_t rows, int64_t len) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowPacks<T, V> rp(row, len);
    T* gr = g + row * len;
    const T* pr = p_in + row * len;
    float sum = 0.f, count = 0.f;
    for (int64_t p = threadIdx.x; p < rp.valid_packs; p += blockDim.x) {
      const Pack<T, V> gv = load_pack<T, V>(gr + p * V), pv = load_pack<T, V>(pr + p * V);
#pragma unroll
      for (int q = 0; q < V; ++q)
        if (p * V + q < rp.valid && to_float(pv.v[q]) > 0.f) {
          sum += to_float(gv.v[q]);
          count += 1.f;
        }
    }
    sum = block_sum(sum, scratch);
    count = block_sum(count, scratch);
    const float mean = round_to<T>(sum / fmaxf(count, 1e-6f));
    for (int64_t p = threadIdx.x; p < rp.packs; p += blockDim.x) {
      Pack<T, V> out;
      if (p < rp.valid_packs) {
        const Pack<T, V> gv = load_pack<T, V>(gr + p * V), pv = load_pack<T, V>(pr + p * V);
#pragma unroll
        for (int q = 0; q < V; ++q)
          out.v[q] = from_float<T>(p * V + q < rp.valid && to_float(pv.v[q]) > 0.f ? to_float(gv.v[q]) - mean : 0.f);
      } else {
#pragma unroll
        for (int q = 0; q < V; ++q) out.v[q] = from_float<T>(0.f);
      }
      store_pack<T, V>(gr + p * V, out);
    }
  }
}

// A quarter of the row's packs per thread pass at least, 32..256 threads.
dim3 block_for(int64_t packs) {
  const int64_t want = ((packs + 3) / 4 + 31) / 32 * 32;
  return dim3(unsigned(std::min<int64_t>(256, std::max<int64_t>(32, want))));
}

dim3 grid_for(int64_t rows) { return dim3(unsigned(std::min(rows, kMaxBlocks))); }

// 16-byte packs when every row starts 16-byte aligned.
template <typename T>
bool use_packs(int64_t len, const void* a, const void* b) {
  constexpr int64_t kVec = 16 / sizeof(T);
  return len % kVec == 0 && aligned16(a) && aligned16(b);
}

template <typename T, int V>
cudaError_t launch_forward_v(const MtaProbsArgs& a, cudaStream_t stream) {
  const T* x = static_cast<const T*>(a.scores);
  T* y = static_cast<T*>(a.probs);
  const dim3 grid = grid_for(a.rows), block = block_for(a.len / V);
  if (a.sparse)
    sparsemax_rows<T, V><<<grid, block, 0, stream>>>(x, y, a.rows, a.len);
  else
    softmax_rows<T, V><<<grid, block, 0, stream>>>(x, y, a.rows, a.len);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_forward(const MtaProbsArgs& a, cudaStream_t stream) {
  return use_packs<T>(a.len, a.scores, a.probs) ? launch_forward_v<T, 16 / sizeof(T)>(a, stream)
                                                : launch_forward_v<T, 1>(a, stream);
}

template <typename T, int V>
cudaError_t launch_backward_v(const MtaProbsBackwardArgs& a, cudaStream_t stream) {
  T* g = static_cast<T*>(a.grad);
  const T* p = static_cast<const T*>(a.probs);
  const dim3 grid = grid_for(a.rows), block = block_for(a.len / V);
  if (a.sparse)
    sparsemax_rows_backward<T, V><<<grid, block, 0, stream>>>(g, p, a.rows, a.len);
  else
    softmax_rows_backward<T, V><<<grid, block, 0, stream>>>(g, p, a.rows, a.len);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_backward(const MtaProbsBackwardArgs& a, cudaStream_t stream) {
  return use_packs<T>(a.len, a.grad, a.probs) ? launch_backward_v<T, 16 / sizeof(T)>(a, stream)
                                              : launch_backward_v<T, 1>(a, stream);
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
