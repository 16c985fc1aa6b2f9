// Embedding forward and backward on CUDA.
//
// Forward: a row gather (rows of out-of-range indices written as 0: the binding checks the
// indices on the side and raises the error), memory bound: each output row is one read of a weight row and one
// write, 16-byte packs when the row length and pointers allow; a block is tx x ty threads, tx
// threads across a row and ty rows at a time, so short rows still fill whole warps.
// Backward (sort and segment, deterministic, fp32 accumulation, no low-precision atomics):
//   1. keys[i] = indices[i] (or a sentinel V for padding_idx and out-of-range), pos[i] = i;
//   2. stable radix sort of (key, pos) on the bits V needs (CUB);
//   3. dW = 0 (a memset: rows no index points to must read 0);
//   4. one block per (first position of a run of equal keys, column tile): sums the run's rows of
//      dOut in fp32 in position order and writes its row of dW once.
// Run lengths follow the token distribution; frequent tokens make long runs, each still read once.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "common/cuda_utils.cuh"
#include "embedding_launch.h"

namespace liger::cuda {
namespace {

constexpr int kForwardThreads = 256;
constexpr int kSegmentThreads = 128;

template <typename T, int VEC>
__global__ void __launch_bounds__(kForwardThreads)
embedding_forward_kernel(const T* __restrict__ w, const int64_t* __restrict__ idx, T* __restrict__ out, int64_t n,
                         int64_t dim, int64_t num_embeddings, int64_t pad) {
  const int64_t packs = dim / VEC;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.y + threadIdx.y;
  if (r >= n) return;
  const int64_t i = idx[r];
  T* dst = out + r * dim;
  // Out-of-range rows (the binding reports them as an error) are written as 0, never read.
  if (i == pad || i < 0 || i >= num_embeddings) {
    Pack<T, VEC> z;
#pragma unroll
    for (int k = 0; k < VEC; ++k) z.v[k] = from_float<T>(0.f);
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) store_pack<T, VEC>(dst + p * VEC, z);
    return;
  }
  const T* src = w + i * dim;
#pragma unroll 4
  for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) store_pack<T, VEC>(dst + p * VEC, load_pack<T, VEC>(src + p * VEC));
}

// Out-of-range indices: some offending value goes to bad[1] and 1 to bad[0], plain stores into
// mapped pinned host memory (which of several offenders wins does not matter).
__global__ void embedding_bounds_kernel(const int64_t* __restrict__ idx, int64_t n, int64_t num_embeddings,
                                        volatile int64_t* bad) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t v = idx[i];
    if (v < 0 || v >= num_embeddings) {
      bad[1] = v;
      bad[0] = 1;
    }
  }
}

__global__ void embedding_keys_kernel(const int64_t* __restrict__ idx, int32_t* __restrict__ keys,
                                      int32_t* __restrict__ pos, int64_t n, int64_t num_embeddings, int64_t pad) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t v = idx[i];
  keys[i] = static_cast<int32_t>(v >= 0 && v < num_embeddings && v != pad ? v : num_embeddings);
  pos[i] = static_cast<int32_t>(i);
}

template <typename T, int VEC>
__global__ void __launch_bounds__(kSegmentThreads)
embedding_segment_kernel(const T* __restrict__ g, const int32_t* __restrict__ keys, const int32_t* __restrict__ pos,
                         T* __restrict__ dw, int64_t n, int64_t dim, int32_t sentinel) {
  const int64_t j = blockIdx.x;
  const int32_t key = keys[j];
  if (key == sentinel || (j > 0 && keys[j - 1] == key)) return;  // not the first of its run
  const int64_t c = (static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x) * VEC;
  if (c >= dim) return;
  float acc[VEC];
#pragma unroll
  for (int k = 0; k < VEC; ++k) acc[k] = 0.f;
  int64_t r = j;
  // Four rows' loads in flight at a time; added in position order (the CPU kernel's order).
  for (; r + 4 <= n && keys[r + 3] == key; r += 4) {
    Pack<T, VEC> v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) v[u] = load_pack<T, VEC>(g + static_cast<int64_t>(pos[r + u]) * dim + c);
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int k = 0; k < VEC; ++k) acc[k] += to_float(v[u].v[k]);
  }
  for (; r < n && keys[r] == key; ++r) {
    const Pack<T, VEC> v = load_pack<T, VEC>(g + static_cast<int64_t>(pos[r]) * dim + c);
#pragma unroll
    for (int k = 0; k < VEC; ++k) acc[k] += to_float(v.v[k]);
  }
  Pack<T, VEC> o;
#pragma unroll
  for (int k = 0; k < VEC; ++k) o.v[k] = from_float<T>(acc[k]);
  store_pack<T, VEC>(dw + static_cast<int64_t>(key) * dim + c, o);
}

template <typename T, int VEC>
cudaError_t forward_typed(const EmbeddingForwardArgs& a, cudaStream_t s) {
  const int64_t packs = a.dim / VEC;
  int tx = 1;
  while (tx < kForwardThreads && tx < packs) tx *= 2;
  const int ty = kForwardThreads / tx;
  const int64_t blocks = (a.n + ty - 1) / ty;
  if (blocks > 0x7fffffff) return cudaErrorInvalidConfiguration;
  embedding_forward_kernel<T, VEC><<<static_cast<unsigned>(blocks), dim3(tx, ty), 0, s>>>(
      static_cast<const T*>(a.weight), a.indices, static_cast<T*>(a.out), a.n, a.dim, a.num_embeddings, a.padding_idx);
  return cudaGetLastError();
}

// Key bits the sort needs: enough for the sentinel num_embeddings itself.
int key_bits(int64_t num_embeddings) {
  int bits = 1;
  while (bits < 31 && (int64_t{1} << bits) <= num_embeddings) ++bits;
  return bits;
}

size_t align256(size_t b) { return (b + 255) / 256 * 256; }

size_t sort_temp_bytes(int64_t n, int64_t num_embeddings) {
  size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
                                  static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
                                  static_cast<int>(n), 0, key_bits(num_embeddings));
  return bytes;
}

template <typename T, int VEC>
cudaError_t segments_typed(const EmbeddingBackwardArgs& a, const int32_t* keys, const int32_t* pos, cudaStream_t s) {
  const int64_t packs = a.dim / VEC;
  const int threads = static_cast<int>(std::min<int64_t>(kSegmentThreads, std::max<int64_t>(32, (packs + 31) / 32 * 32)));
  const dim3 grid(static_cast<unsigned>(a.n), static_cast<unsigned>((packs + threads - 1) / threads));
  embedding_segment_kernel<T, VEC><<<grid, threads, 0, s>>>(static_cast<const T*>(a.grad_out), keys, pos,
                                                            static_cast<T*>(a.grad_weight), a.n, a.dim,
                                                            static_cast<int32_t>(a.num_embeddings));
  return cudaGetLastError();
}

}  // namespace

cudaError_t embedding_find_bad_index(const int64_t* indices, int64_t n, int64_t num_embeddings, int64_t* bad_mapped,
                                     cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  constexpr int threads = 256, per_thread = 4;
  const int64_t blocks = std::min<int64_t>((n + threads * per_thread - 1) / (threads * per_thread), 4096);
  embedding_bounds_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(indices, n, num_embeddings, bad_mapped);
  return cudaGetLastError();
}

cudaError_t embedding_forward(const EmbeddingForwardArgs& a, cudaStream_t stream) {
  if (a.n == 0 || a.dim == 0) return cudaSuccess;
  const bool vec = rows_allow_packs(a.dim, size_of(a.dtype), {a.weight, a.out});
  return dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    return vec ? forward_typed<T, 16 / sizeof(T)>(a, stream) : forward_typed<T, 1>(a, stream);
  });
}

size_t embedding_backward_workspace_bytes(int64_t n, int64_t num_embeddings) {
  if (n == 0) return 0;
  return 4 * align256(static_cast<size_t>(n) * sizeof(int32_t)) + sort_temp_bytes(n, num_embeddings);
}

cudaError_t embedding_backward(const EmbeddingBackwardArgs& a, cudaStream_t stream) {
  const size_t dw_bytes = static_cast<size_t>(a.num_embeddings) * a.dim * size_of(a.dtype);
  if (dw_bytes > 0) {
    if (cudaError_t e = cudaMemsetAsync(a.grad_weight, 0, dw_bytes, stream); e != cudaSuccess) return e;
  }
  if (a.n == 0 || a.dim == 0 || a.num_embeddings == 0) return cudaSuccess;
  if (a.n > 0x7fffffff || a.num_embeddings >= 0x7fffffff) return cudaErrorInvalidValue;
  if (a.workspace_bytes < embedding_backward_workspace_bytes(a.n, a.num_embeddings)) return cudaErrorInvalidValue;
  const size_t arr = align256(static_cast<size_t>(a.n) * sizeof(int32_t));
  char* ws = static_cast<char*>(a.workspace);
  auto* keys = reinterpret_cast<int32_t*>(ws);
  auto* keys_sorted = reinterpret_cast<int32_t*>(ws + arr);
  auto* pos = reinterpret_cast<int32_t*>(ws + 2 * arr);
  auto* pos_sorted = reinterpret_cast<int32_t*>(ws + 3 * arr);
  void* temp = ws + 4 * arr;
  size_t temp_bytes = a.workspace_bytes - 4 * arr;

  embedding_keys_kernel<<<static_cast<unsigned>((a.n + 255) / 256), 256, 0, stream>>>(a.indices, keys, pos, a.n,
                                                                                      a.num_embeddings, a.padding_idx);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  if (cudaError_t e = cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys, keys_sorted, pos, pos_sorted,
                                                      static_cast<int>(a.n), 0, key_bits(a.num_embeddings), stream);
      e != cudaSuccess)
    return e;
  const bool vec = rows_allow_packs(a.dim, size_of(a.dtype), {a.grad_out, a.grad_weight});
  return dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    return vec ? segments_typed<T, 16 / sizeof(T)>(a, keys_sorted, pos_sorted, stream)
               : segments_typed<T, 1>(a, keys_sorted, pos_sorted, stream);
  });
}

}  // namespace liger::cuda
