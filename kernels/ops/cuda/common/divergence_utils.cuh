#pragma once
// Device helpers of the divergence kernels (KL, JSD, fused linear JSD): packs loaded and stored
// with streaming cache hints (bytes touched once should not evict bytes that are reused), double
// block sums for losses summed over up to 10^9 elements, and the persistent-grid size.
#include <algorithm>
#include <climits>
#include <cstring>

#include "cuda_utils.cuh"

namespace liger::cuda {

template <int kBytes> struct RawVec;
template <> struct RawVec<2> { using type = unsigned short; };
template <> struct RawVec<4> { using type = unsigned int; };
template <> struct RawVec<8> { using type = uint2; };
template <> struct RawVec<16> { using type = uint4; };

// A pack read once (ld.global.cs: evict first). 32-byte packs are two 16-byte accesses.
template <typename T, int N>
__device__ __forceinline__ Pack<T, N> load_stream(const T* p) {
  Pack<T, N> out;
  if constexpr (sizeof(T) * N == 32) {
    const auto lo = load_stream<T, N / 2>(p);
    const auto hi = load_stream<T, N / 2>(p + N / 2);
    memcpy(&out.v[0], &lo, 16);
    memcpy(&out.v[N / 2], &hi, 16);
  } else {
    using Raw = typename RawVec<sizeof(T) * N>::type;
    const Raw r = __ldcs(reinterpret_cast<const Raw*>(p));
    memcpy(&out, &r, sizeof(Raw));
  }
  return out;
}

// A pack written once (st.global.cs).
template <typename T, int N>
__device__ __forceinline__ void store_stream(T* p, const Pack<T, N>& v) {
  if constexpr (sizeof(T) * N == 32) {
    Pack<T, N / 2> lo, hi;
    memcpy(&lo, &v.v[0], 16);
    memcpy(&hi, &v.v[N / 2], 16);
    store_stream<T, N / 2>(p, lo);
    store_stream<T, N / 2>(p + N / 2, hi);
  } else {
    using Raw = typename RawVec<sizeof(T) * N>::type;
    Raw r;
    memcpy(&r, &v, sizeof(Raw));
    __stcs(reinterpret_cast<Raw*>(p), r);
  }
}

template <typename T, int N>
__device__ __forceinline__ Pack<T, N> zero_pack() {
  Pack<T, N> z;
#pragma unroll
  for (int k = 0; k < N; ++k) z.v[k] = from_float<T>(0.f);
  return z;
}

__device__ __forceinline__ double warp_sum_double(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block, valid in thread 0 (a fixed order: deterministic). `scratch` holds 32 doubles.
__device__ __forceinline__ double block_sum_double(double v, double* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  v = warp_sum_double(v);
  if (warps == 1) return v;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0;
  if (warp == 0) v = warp_sum_double(v);
  __syncthreads();
  return v;
}

// Blocks of a persistent grid: as many as are resident at once, at most `work` and at least 1.
template <typename Kernel>
int persistent_blocks(Kernel kernel, int threads, int64_t work, int max_blocks) {
  int per_sm = 0;
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0);
  const int64_t resident = static_cast<int64_t>(std::max(1, per_sm)) * num_sms();
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({work, resident, max_blocks})));
}

}  // namespace liger::cuda
