#pragma once
// Shared by the row kernels that keep a whole row in registers (layer_norm, softmax, sparsemax):
// how a row is split over a block, bounds-checked pack loads, multi-value block sums, grids.
//
// Layout: a row is cut into packs of VEC = 16 bytes / sizeof(T) elements; thread t of a block
// holds packs t, t + threads, ..., t + (ITEMS - 1) * threads, so each warp load instruction reads
// 512 consecutive bytes. Rows whose length or base pointers are not 16-byte aligned keep the same
// layout but load element by element (the `vec_ok` flag), so every row length has the same limit.
#include <algorithm>
#include <type_traits>

#include "cuda_utils.cuh"

namespace liger::cuda::rows {

template <typename T>
__host__ __device__ constexpr int vec_of() {
  return 16 / static_cast<int>(sizeof(T));
}

// One size class of row: ITEMS packs a thread, at most `max_threads` threads a block.
struct RowClass {
  int items;
  int max_threads;
};

struct RowPlan {
  int cls = -1;     // index into the kernel's class table; -1: the row is too long
  int threads = 0;  // a multiple of 32
};

// The first class (tables are ordered by capacity) whose block covers `cols` elements.
template <int N>
RowPlan plan_row(int64_t cols, int vec, const RowClass (&table)[N]) {
  const int64_t packs = (cols + vec - 1) / vec;
  for (int i = 0; i < N; ++i) {
    const int64_t threads = std::max<int64_t>(32, ((packs + table[i].items - 1) / table[i].items + 31) / 32 * 32);
    if (threads <= table[i].max_threads) return {i, static_cast<int>(threads)};
  }
  return {};
}

template <int N>
int64_t max_cols(int vec, const RowClass (&table)[N]) {
  return static_cast<int64_t>(table[N - 1].items) * table[N - 1].max_threads * vec;
}

// Column of the first element of this thread's item i.
template <int VEC>
__device__ __forceinline__ int64_t col_of(int i) {
  return (static_cast<int64_t>(i) * blockDim.x + threadIdx.x) * VEC;
}

// Pack [c, c + VEC) of a row (c < cols). Elements past the row's end read as `pad`.
template <typename T, int VEC>
__device__ __forceinline__ Pack<T, VEC> load_row_pack(const T* row, int64_t c, int64_t cols, bool vec_ok, T pad) {
  if (vec_ok) return load_pack<T, VEC>(row + c);
  Pack<T, VEC> p;
#pragma unroll
  for (int k = 0; k < VEC; ++k) p.v[k] = c + k < cols ? row[c + k] : pad;
  return p;
}

template <typename T, int VEC>
__device__ __forceinline__ void store_row_pack(T* row, int64_t c, int64_t cols, bool vec_ok, const Pack<T, VEC>& p) {
  if (vec_ok) {
    store_pack<T, VEC>(row + c, p);
    return;
  }
#pragma unroll
  for (int k = 0; k < VEC; ++k)
    if (c + k < cols) row[c + k] = p.v[k];
}

// Elements [c, c + VEC) of a row as floats, `pad` past the row's end. T need not be the type
// that set VEC (an fp32 weight beside a bf16 row): the vector path issues loads of at most 16
// bytes, each aligned when the row's base is.
template <typename T, int VEC>
__device__ __forceinline__ void load_row_floats(const T* row, int64_t c, int64_t cols, bool vec_ok, float pad,
                                                float (&out)[VEC]) {
  constexpr int kChunk = VEC * sizeof(T) > 16 ? 16 / static_cast<int>(sizeof(T)) : VEC;
  if (vec_ok) {
#pragma unroll
    for (int j = 0; j < VEC; j += kChunk) {
      const Pack<T, kChunk> p = load_pack<T, kChunk>(row + c + j);
#pragma unroll
      for (int k = 0; k < kChunk; ++k) out[j + k] = to_float(p.v[k]);
    }
    return;
  }
#pragma unroll
  for (int k = 0; k < VEC; ++k) out[k] = c + k < cols ? to_float(row[c + k]) : pad;
}

// Rounds VEC floats to T once and stores them.
template <typename T, int VEC>
__device__ __forceinline__ void store_row_floats(T* row, int64_t c, int64_t cols, bool vec_ok, const float (&v)[VEC]) {
  Pack<T, VEC> p;
#pragma unroll
  for (int k = 0; k < VEC; ++k) p.v[k] = from_float<T>(v[k]);
  store_row_pack<T, VEC>(row, c, cols, vec_ok, p);
}

// N sums over the block at once (one pair of barriers for all of them); every thread gets the
// results. `scratch` holds 32 * N floats. Safe to call back to back.
template <int N>
__device__ __forceinline__ void block_sum_n(float (&v)[N], float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
#pragma unroll
  for (int j = 0; j < N; ++j) v[j] = warp_sum(v[j]);
  if (warps == 1) return;
  if (lane == 0) {
#pragma unroll
    for (int j = 0; j < N; ++j) scratch[j * 32 + warp] = v[j];
  }
  __syncthreads();
#pragma unroll
  for (int j = 0; j < N; ++j) v[j] = warp_sum(lane < warps ? scratch[j * 32 + lane] : 0.f);
  __syncthreads();
}

// Blocks of `kernel` at `threads` a block and `smem` bytes of dynamic shared memory that fit on
// the device at once (at least one), capped at `per_sm_cap` an SM; the grid of a persistent
// kernel that walks rows with a stride.
template <typename Kernel>
int resident_blocks(Kernel kernel, int threads, int per_sm_cap, size_t smem) {
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem) != cudaSuccess) per_sm = 1;
  return std::max(1, std::min(per_sm, per_sm_cap)) * num_sms();
}

// Calls fn(std::integral_constant<int, cls>{}) for a runtime class index below N: row kernels
// turn a plan's class into template arguments with it.
template <int N, int I = 0, typename Fn>
cudaError_t dispatch_class(int cls, Fn&& fn) {
  if constexpr (I < N) {
    if (cls == I) return fn(std::integral_constant<int, I>{});
    return dispatch_class<N, I + 1>(cls, fn);
  } else {
    return cudaErrorInvalidConfiguration;
  }
}

// The grid of a one-block-a-row kernel; its stride loop only matters past 2^31 - 1 rows.
inline unsigned block_rows_grid(int64_t rows) { return static_cast<unsigned>(std::min<int64_t>(rows, 0x7fffffff)); }

// Launches a one-block-a-row kernel on the class `plan` picked, at plan.threads a block:
// kernel_for(std::integral_constant<int, cls>, std::bool_constant<vec_ok>) names the kernel's
// instantiation (vec_ok: 16-byte packs, from rows_allow_packs), called with args.
template <int N, typename KernelFor, typename... Args>
cudaError_t launch_row_blocks(const RowPlan& plan, bool vec, int64_t rows, cudaStream_t stream, KernelFor kernel_for,
                              Args... args) {
  return dispatch_class<N>(plan.cls, [&](auto cls) {
    auto* kernel = vec ? kernel_for(cls, std::true_type{}) : kernel_for(cls, std::false_type{});
    kernel<<<block_rows_grid(rows), plan.threads, 0, stream>>>(args...);
    return cudaGetLastError();
  });
}

}  // namespace liger::cuda::rows
