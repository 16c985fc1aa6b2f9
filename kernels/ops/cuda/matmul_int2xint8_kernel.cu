// int2 x int8 matmul on the integer tensor cores (mma.sync m16n8k32 s8 x s8 -> s32), for the
// format of KERNELS.md section 19.
//
// The dot product over K is order-free, so the kernel sums in a "virtual" K order kv = 4r + i,
// which is actual k = r + i*R (R = K/4): then one packed byte b[r, n] is exactly four
// consecutive virtual k of column n, i.e. one 32-bit B-fragment register once its four 2-bit
// codes are spread to bytes and 1 is subtracted from each (__vsub4). The matching A register is
// the word of the four int8 activations a[m, r + i*R], which a first kernel packs once into
// a_quads (M, R) so that the main kernel reads it with plain 4-byte loads.
//
// The N order inside a warp is permuted too, so that each thread's B bytes come from one 4-byte
// load: thread (group g, lane-in-group t) loads the word of columns n0 + 4g .. n0 + 4g + 3 and
// uses its byte j as column g of n-tile j. A warp thus covers 32 columns as 4 n-tiles of 8; the
// eight warps of a block split the block's K range (8 packed rows = one k32 step each in turn)
// and their accumulators are summed in shared memory. At decode shapes the kernel is bound by
// the latency of the weight loads, so it wants many of them in flight: 8 warps a block, at most
// 32 output rows a block (fewer registers, more blocks an SM; larger M takes more blocks, which
// re-read b from L2), the K loop unrolled. When the grid would still be small (few columns, few
// rows), K is also split across blocks, whose int32 partials are added with atomics: integer
// sums are exact, so the result does not depend on their order; with at most 32 rows the
// atomics stay few.
//
// Why tensor cores rather than dp4a: at M = 64, K = N = 4096 a dp4a kernel needs 2^28 dp4a lane
// operations, about 18 us on an H200, slower than the bf16 matmul it is to beat; the mma path
// is bounded by the packed weight read (4 MiB there).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "common/cuda_utils.cuh"
#include "matmul_int2xint8_launch.h"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "matmul_int2xint8_kernel.cu needs sm_80 or later (mma.sync m16n8k32 s8)"
#endif

namespace liger::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kColsPerBlock = 32;       // one warp's 4 n-tiles of 8
constexpr int kRowsPerStep = 8;         // packed rows (k32 of virtual K) per mma
constexpr uint32_t kZeroWeights = 0x55u;  // a byte of four code-1 fields: four zero weights

// a_quads[m, r] = bytes (a[m, r], a[m, r + R], a[m, r + 2R], a[m, r + 3R]), lowest first.
__global__ void pack_activation_quads(const int8_t* __restrict__ a, int32_t* __restrict__ quads, int64_t m, int64_t r) {
  const int64_t total = m * r, k = 4 * r;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = idx / r, col = idx - row * r;
    const int8_t* ar = a + row * k + col;
    const uint32_t w = uint32_t(uint8_t(ar[0])) | (uint32_t(uint8_t(ar[r])) << 8) | (uint32_t(uint8_t(ar[2 * r])) << 16) |
                       (uint32_t(uint8_t(ar[3 * r])) << 24);
    quads[idx] = int32_t(w);
  }
}

// Four 2-bit codes of a byte -> four int8 weights code - 1, one per byte of the word.
__device__ __forceinline__ uint32_t decode_byte(uint32_t x) {
  const uint32_t codes = (x & 0x03u) | ((x & 0x0Cu) << 6) | ((x & 0x30u) << 12) | ((x & 0xC0u) << 18);
  return __vsub4(codes, 0x01010101u);
}

__device__ __forceinline__ void mma_s8(int32_t (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                       uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// The word of packed row `row` holding columns col..col+3 (code-1 bytes past N or past the
// block's K range, so they add nothing).
__device__ __forceinline__ uint32_t load_b_word(const uint8_t* __restrict__ b, int64_t row, int64_t row_end, int64_t col,
                                                int64_t n, bool word_loads) {
  constexpr uint32_t kZeroWord = kZeroWeights * 0x01010101u;
  if (row >= row_end) return kZeroWord;
  const uint8_t* p = b + row * n + col;
  if (word_loads) return col < n ? __ldg(reinterpret_cast<const uint32_t*>(p)) : kZeroWord;
  uint32_t w = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) w |= (col + j < n ? uint32_t(__ldg(p + j)) : kZeroWeights) << (8 * j);
  return w;
}

__device__ __forceinline__ uint32_t load_a(const int32_t* __restrict__ quads, int64_t row, int64_t m, int64_t r,
                                           int64_t r_end, int64_t stride) {
  return (row < m && r < r_end) ? uint32_t(__ldg(quads + row * stride + r)) : 0u;
}

// Block (x: 32 columns, y: a K range of r_chunk packed rows, z: 16 * MTiles output rows).
template <int MTiles>
__global__ void __launch_bounds__(kThreads) int2_mma_kernel(const int32_t* __restrict__ quads, const uint8_t* __restrict__ b,
                                                            int32_t* __restrict__ c, int64_t m, int64_t n, int64_t r_total,
                                                            int64_t r_chunk, bool word_loads, bool accumulate) {
  constexpr int kRows = 16 * MTiles;
  __shared__ int32_t partial[kRows][kColsPerBlock];
  for (int i = threadIdx.x; i < kRows * kColsPerBlock; i += kThreads) partial[i / kColsPerBlock][i % kColsPerBlock] = 0;

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int64_t n0 = int64_t(blockIdx.x) * kColsPerBlock;
  const int64_t m0 = int64_t(blockIdx.z) * kRows;
  const int64_t r_begin = int64_t(blockIdx.y) * r_chunk;
  const int64_t r_end = r_begin + r_chunk < r_total ? r_begin + r_chunk : r_total;
  const int64_t col = n0 + 4 * g;

  int32_t acc[MTiles][4][4];
#pragma unroll
  for (int mt = 0; mt < MTiles; ++mt)
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[mt][nt][q] = 0;

#pragma unroll 4
  for (int64_t rb = r_begin + kRowsPerStep * warp; rb < r_end; rb += kRowsPerStep * kWarps) {
    const uint32_t w_lo = load_b_word(b, rb + t, r_end, col, n, word_loads);
    const uint32_t w_hi = load_b_word(b, rb + 4 + t, r_end, col, n, word_loads);
    uint32_t b_lo[4], b_hi[4];
#pragma unroll
    for (int nt = 0; nt < 4; ++nt) {
      b_lo[nt] = decode_byte((w_lo >> (8 * nt)) & 0xFFu);
      b_hi[nt] = decode_byte((w_hi >> (8 * nt)) & 0xFFu);
    }
#pragma unroll
    for (int mt = 0; mt < MTiles; ++mt) {
      const int64_t row = m0 + 16 * mt + g;
      const uint32_t a0 = load_a(quads, row, m, rb + t, r_end, r_total);
      const uint32_t a1 = load_a(quads, row + 8, m, rb + t, r_end, r_total);
      const uint32_t a2 = load_a(quads, row, m, rb + 4 + t, r_end, r_total);
      const uint32_t a3 = load_a(quads, row + 8, m, rb + 4 + t, r_end, r_total);
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) mma_s8(acc[mt][nt], a0, a1, a2, a3, b_lo[nt], b_hi[nt]);
    }
  }
  __syncthreads();  // partial[] zeroed by every thread before any warp adds to it

  // Accumulator (row g or g + 8, tile column 2t or 2t + 1) of n-tile nt is column 4 * (2t + j) + nt.
#pragma unroll
  for (int mt = 0; mt < MTiles; ++mt)
#pragma unroll
    for (int nt = 0; nt < 4; ++nt) {
      const int r0 = 16 * mt + g, c0 = 8 * t + nt;
      atomicAdd(&partial[r0][c0], acc[mt][nt][0]);
      atomicAdd(&partial[r0][c0 + 4], acc[mt][nt][1]);
      atomicAdd(&partial[r0 + 8][c0], acc[mt][nt][2]);
      atomicAdd(&partial[r0 + 8][c0 + 4], acc[mt][nt][3]);
    }
  __syncthreads();

  for (int i = threadIdx.x; i < kRows * kColsPerBlock; i += kThreads) {
    const int64_t row = m0 + i / kColsPerBlock, cc = n0 + i % kColsPerBlock;
    if (row >= m || cc >= n) continue;
    const int32_t v = partial[i / kColsPerBlock][i % kColsPerBlock];
    if (accumulate)
      atomicAdd(c + row * n + cc, v);
    else
      c[row * n + cc] = v;
  }
}

template <int MTiles>
cudaError_t launch_mma(const Int2MatmulArgs& p, cudaStream_t stream) {
  constexpr int64_t kRows = 16 * MTiles;
  constexpr int64_t kMaxGridZ = 65535;
  const int64_t r_total = p.k / 4;
  const int64_t grid_x = (p.n + kColsPerBlock - 1) / kColsPerBlock;
  const int64_t m_tiles = (p.m + kRows - 1) / kRows;
  const int64_t grid_z = std::min(m_tiles, kMaxGridZ);
  // Split K across blocks only when the grid would leave SMs idle (2 blocks an SM wanted).
  const int64_t want = 2 * int64_t(num_sms());
  const int64_t step = kRowsPerStep * kWarps;
  int64_t splits = 1;
  if (p.m <= 32 && grid_x * grid_z < want) splits = std::min((want + grid_x * grid_z - 1) / (grid_x * grid_z), (r_total + step - 1) / step);
  splits = std::max<int64_t>(splits, 1);
  const int64_t r_chunk = ((r_total + splits - 1) / splits + step - 1) / step * step;
  splits = (r_total + r_chunk - 1) / r_chunk;
  const bool accumulate = splits > 1;
  if (accumulate) {
    const cudaError_t err = cudaMemsetAsync(p.c, 0, sizeof(int32_t) * p.m * p.n, stream);
    if (err != cudaSuccess) return err;
  }
  const bool word_loads = p.n % 4 == 0 && (reinterpret_cast<uintptr_t>(p.b) & 3u) == 0;
  // Row slabs of at most kMaxGridZ tiles (grid.z's limit).
  for (int64_t tile0 = 0; tile0 < m_tiles; tile0 += kMaxGridZ) {
    const int64_t row0 = tile0 * kRows;
    const int64_t rows = std::min(p.m - row0, kMaxGridZ * kRows);
    const dim3 grid(unsigned(grid_x), unsigned(splits), unsigned(std::min(m_tiles - tile0, kMaxGridZ)));
    int2_mma_kernel<MTiles><<<grid, kThreads, 0, stream>>>(p.a_quads + row0 * r_total, p.b, p.c + row0 * p.n, rows, p.n,
                                                           r_total, r_chunk, word_loads, accumulate);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t int2_matmul(const Int2MatmulArgs& p, cudaStream_t stream) {
  const int64_t r = p.k / 4;
  const int64_t total = p.m * r;
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 8 * int64_t(num_sms()));
  pack_activation_quads<<<unsigned(std::max<int64_t>(blocks, 1)), threads, 0, stream>>>(p.a, p.a_quads, p.m, r);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  return p.m <= 16 ? launch_mma<1>(p, stream) : launch_mma<2>(p, stream);
}

}  // namespace liger::cuda
