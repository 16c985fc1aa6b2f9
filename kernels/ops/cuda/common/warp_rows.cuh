#pragma once
// One warp a row: the layout of the row kernels' fast path for rows of 65 to 512 16-byte packs
// (bf16/fp16 rows of 520 to 4096 elements, fp32 rows of 260 to 2048) whose rows are 16-byte
// aligned.
//
// Why: with a block per row, every row waits at __syncthreads for its slowest warp before any
// thread may write, and a block's next row cannot start until then, so the block-per-row forwards
// stayed well short of the element-wise kernels' bandwidth (docs/perf/rows.md). With
// a warp per row the reductions are shuffles only, and each warp streams its own rows
// independently, like an element-wise kernel that happens to reduce.
//
// Layout: lane l holds packs l, l + 32, ..., l + 32 * (ITEMS - 1) of its row, so each warp load
// instruction reads 512 consecutive bytes. Packs past the row's end are neither read nor written.
#include "cuda_utils.cuh"

namespace liger::cuda::warp_rows {

constexpr int kWarpsPerBlock = 4;
constexpr int kThreads = kWarpsPerBlock * 32;
// Launch bound: at least 4 blocks (16 warps, 16 rows) an SM, so at most 128 registers a lane.
constexpr int kMinBlocks = 4;

// Packs a lane holds for a row of `packs` 16-byte packs; 0 when the row takes the block path
// (shorter rows: a block of one warp already; longer rows: too many registers a lane).
inline int items_for(int64_t packs) {
  if (packs <= 64 || packs > 512) return 0;
  return packs <= 128 ? 4 : packs <= 256 ? 8 : 16;
}

inline unsigned grid_for(int64_t rows) {
  return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

// This warp's row (may be >= rows in the last block).
__device__ __forceinline__ int64_t row_of_warp() {
  return static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
}

// Column of the first element of this lane's pack i.
template <int VEC>
__device__ __forceinline__ int64_t col_of(int i) {
  return (static_cast<int64_t>(i) * 32 + (threadIdx.x & 31)) * VEC;
}

// Whether a row of `packs` packs fills every lane's ITEMS packs (1024, 2048, 4096 bf16 elements;
// 512, 1024, 2048 fp32: the common hidden sizes). Such rows take kernels compiled without bounds
// tests (FULL). Why: a kernel with parameter vectors (weight, bias) is latency bound per row, and
// without bounds tests the compiler issues the vectors' loads together with the row's, before
// the reductions; with them, it waits until after, and every row pays an L2 round trip (x and y
// stream through L1 and evict the vectors). Figures and the alternatives tried (L1 prefetch, TMA
// bulk copies, shared-memory staging): docs/perf/rows.md.
template <int ITEMS>
inline bool full_row(int64_t packs) {
  return packs == int64_t{32} * ITEMS;
}

// Calls fn(items, full) for a row of `packs` packs that takes the warp path (items_for(packs) > 0),
// with ITEMS and FULL as compile-time constants (std::integral_constant<int, ITEMS> and
// std::bool_constant<FULL>), so each launcher picks its kernel in one place.
template <typename Fn>
cudaError_t dispatch_row(int64_t packs, Fn&& fn) {
  auto with = [&](auto items) {
    return full_row<decltype(items)::value>(packs) ? fn(items, std::true_type{}) : fn(items, std::false_type{});
  };
  switch (items_for(packs)) {
    case 4: return with(std::integral_constant<int, 4>{});
    case 8: return with(std::integral_constant<int, 8>{});
    case 16: return with(std::integral_constant<int, 16>{});
  }
  return cudaErrorInvalidConfiguration;
}

// Loads this lane's packs of a row (all loads issued before any is used). FULL: every pack exists.
template <typename T, int VEC, int ITEMS, bool FULL = false>
__device__ __forceinline__ void load_row(const T* row, int64_t cols, Pack<T, VEC> (&p)[ITEMS]) {
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int64_t c = col_of<VEC>(i);
    if (FULL || c < cols) p[i] = load_pack<T, VEC>(row + c);
  }
}

// Makes the compiler treat a row's 16-byte packs as changed, so that element conversions made
// before this point cannot be reused after it. Without it, a 16-bit row's fp32 conversions from the
// reduction pass stay live until the output pass (128 extra registers a lane at 16 packs, which
// for bf16 pushed the kernels to 148 registers and 3 blocks an SM); with it, the output pass
// converts again from the packed row (one instruction an element, on data in registers).
template <typename T, int VEC, int ITEMS>
__device__ __forceinline__ void keep_packed(Pack<T, VEC> (&row)[ITEMS]) {
  static_assert(sizeof(Pack<T, VEC>) == 16, "16-byte packs");
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    uint4& u = reinterpret_cast<uint4&>(row[i]);
    asm volatile("" : "+r"(u.x), "+r"(u.y), "+r"(u.z), "+r"(u.w));
  }
}

}  // namespace liger::cuda::warp_rows
