// LayerNorm forward and backward on CUDA.
//
// Memory bound: the forward reads x once and writes y once; the backward reads x and dy once and
// writes dx once, plus a (cols,) fp32 partial row of dW and one of dB per block. A row is read
// once into registers: mean, variance (two passes over the registers, so no E[x^2] - mean^2
// cancellation) and the output come from that one read.
// - Forward, 16-byte-aligned rows of 520-4096 16-bit or 260-2048 fp32 elements: one warp a row
//   (warp_rows.cuh; faster than the block kernel, and FULL rows without bounds tests faster
//   still: docs/perf/norms.md).
// - Otherwise one block a row (row_plan.cuh), per-thread statistics merged across the block in one
//   reduction. Both block grids are persistent: the forward reads w and b per row (L1/L2 hits);
//   the backward keeps w and its dW/dB sums in registers across the rows it walks.
#include "layer_norm_launch.h"
#include "common/row_plan.cuh"
#include "common/warp_rows.cuh"

namespace liger::cuda {
namespace {

using rows::RowClass;

// Size classes, smallest first: rows of up to 16384 elements in every dtype (Liger's benchmark
// sweeps hidden sizes up to 16384), 512 threads a block at most so that a thread may use 128
// registers. 16-bit rows stop at 4 items a thread: at 8 the compiler keeps the row as fp32 across
// the passes and spills.
template <int ELEM_SIZE>
struct Classes;
template <>
struct Classes<2> {
  static constexpr RowClass table[] = {{1, 128}, {2, 256}, {4, 512}};
};
template <>
struct Classes<4> {
  static constexpr RowClass table[] = {{1, 128}, {2, 256}, {4, 512}, {8, 512}};
};
template <typename T>
constexpr int num_classes() {
  return sizeof(Classes<sizeof(T)>::table) / sizeof(RowClass);
}

// The forward keeps no dW/dB sums, so a thread can hold more of the row: 16-bit rows of up to
// 4096 elements take 4 packs a thread in 128-thread blocks (more blocks an SM, so more loads in
// flight, than 2 packs in 256 threads). Same longest row as the backward.
template <int ELEM_SIZE>
struct FwdClasses;
template <>
struct FwdClasses<2> {
  static constexpr RowClass table[] = {{1, 128}, {4, 128}, {4, 512}};
};
template <>
struct FwdClasses<4> : Classes<4> {};  // fp32 rows: the backward's classes
template <typename T>
constexpr int num_fwd_classes() {
  return sizeof(FwdClasses<sizeof(T)>::table) / sizeof(RowClass);
}

// Backward blocks an SM: each writes a partial row of dW and of dB, so more blocks mean more
// partial traffic; two already keep enough loads in flight (two rows of x and dy each).
constexpr int kBackwardBlocksPerSm = 2;

// Mean and M2 (sum of squared deviations) of a set of values, merged with Chan et al.'s parallel
// formula: exact two-pass statistics per thread, stable merges across threads, and one block
// reduction a row instead of two (mean, then variance), so one barrier a row.
struct MeanM2 {
  float n, mean, m2;
};

__device__ __forceinline__ MeanM2 merge(const MeanM2& a, const MeanM2& b) {
  const float n = a.n + b.n;
  if (n == 0.f) return a;
  // Equal counts (every thread of a row whose length the block divides) need no division.
  const float delta = b.mean - a.mean, fb = a.n == b.n ? 0.5f : b.n / n;
  return {n, a.mean + delta * fb, a.m2 + b.m2 + delta * delta * a.n * fb};
}

// Every thread gets the same merged result (the same merge order everywhere). `scratch` holds two
// sets of 32 entries used on alternate calls (`parity`), so that no second barrier is needed
// before the next row overwrites them.
__device__ __forceinline__ MeanM2 block_mean_m2(MeanM2 v, MeanM2* scratch, int parity) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const MeanM2 other{__shfl_down_sync(0xffffffffu, v.n, o), __shfl_down_sync(0xffffffffu, v.mean, o),
                       __shfl_down_sync(0xffffffffu, v.m2, o)};
    v = merge(v, other);  // lanes past the warp's end read their own value: only lane 0's result is used
  }
  const int warps = (blockDim.x + 31) >> 5;
  MeanM2* slot = scratch + parity * 32;
  if ((threadIdx.x & 31) == 0) slot[threadIdx.x >> 5] = v;
  __syncthreads();
  MeanM2 r = slot[0];
  for (int w = 1; w < warps; ++w) r = merge(r, slot[w]);
  return r;
}

// Per-thread statistics of the valid elements of its packs (two passes over registers). Whole
// packs, the common case, skip the per-element bounds tests: the kernel is latency bound, and
// every instruction in a row's dependent chain counts.
template <typename T, int VEC, int ITEMS>
__device__ __forceinline__ MeanM2 thread_mean_m2(const Pack<T, VEC> (&xv)[ITEMS], int64_t cols) {
  float s = 0.f, n = 0.f;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int64_t c = rows::col_of<VEC>(i);
    if (c + VEC <= cols) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) s += to_float(xv[i].v[k]);
      n += static_cast<float>(VEC);
    } else if (c < cols) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        if (c + k < cols) {
          s += to_float(xv[i].v[k]);
          n += 1.f;
        }
      }
    }
  }
  const float mean = n > 0.f ? s / n : 0.f;
  float m2 = 0.f;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int64_t c = rows::col_of<VEC>(i);
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      const float d = to_float(xv[i].v[k]) - mean;
      if (c + VEC <= cols || c + k < cols) m2 = fmaf(d, d, m2);
    }
  }
  return {n, mean, m2};
}

// y[c, c + VEC) = (x - mean) * rstd * w + b for one pack of a row, w and b read through L1/L2.
template <typename T, typename TW, int VEC>
__device__ __forceinline__ void store_normalized(T* yr, const TW* w, const TW* b, int64_t c, int64_t cols,
                                                 bool vec_ok, const Pack<T, VEC>& x, float mu, float rs) {
  float wv[VEC], bv[VEC], out[VEC];
  rows::load_row_floats<TW, VEC>(w, c, cols, vec_ok, 0.f, wv);
  rows::load_row_floats<TW, VEC>(b, c, cols, vec_ok, 0.f, bv);
#pragma unroll
  for (int k = 0; k < VEC; ++k) out[k] = fmaf((to_float(x.v[k]) - mu) * rs, wv[k], bv[k]);
  rows::store_row_floats<T, VEC>(yr, c, cols, vec_ok, out);
}

// As many blocks an SM as leave a thread 128 registers (the row takes at most 16 of them
// packed, twice that while the next row is in flight, plus its fp32 statistics).
template <typename T, int CLS>
constexpr int forward_min_blocks() {
  constexpr int threads = FwdClasses<sizeof(T)>::table[CLS].max_threads;
  return 65536 / (threads * 128) > 0 ? 65536 / (threads * 128) : 1;
}

// w and b are read per row from global memory (L1/L2 hits): staging them in shared memory
// measured slower, as for RMSNorm. vec_ok is a template parameter: with 16-byte access known at
// compile time, the hot path carries none of the element-wise fallback (as a runtime flag it
// was much slower). Figures: docs/perf/norms.md.
template <typename T, typename TW, int CLS, bool vec_ok>
__global__ void __launch_bounds__(FwdClasses<sizeof(T)>::table[CLS].max_threads, forward_min_blocks<T, CLS>())
layer_norm_forward_kernel(const T* __restrict__ x, const TW* __restrict__ w, const TW* __restrict__ b,
                          T* __restrict__ y, float* __restrict__ mean_out, float* __restrict__ rstd_out, int64_t rows,
                          int64_t cols, float eps) {
  constexpr int VEC = rows::vec_of<T>();
  constexpr int ITEMS = FwdClasses<sizeof(T)>::table[CLS].items;
  __shared__ MeanM2 scratch[2 * 32];
  const T zero = from_float<T>(0.f);
  // The next row's loads are issued before this row's block reduction, so the block keeps
  // memory busy while it waits at the barrier.
  constexpr bool kPrefetch = ITEMS * VEC <= 32;
  auto load_x = [&](int64_t r, Pack<T, VEC>* dst) {
    const T* xr = x + r * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) dst[i] = rows::load_row_pack<T, VEC>(xr, c, cols, vec_ok, zero);
    }
  };
  Pack<T, VEC> xv[ITEMS], xn[kPrefetch ? ITEMS : 1];
  if constexpr (kPrefetch) {
    if (blockIdx.x < rows) load_x(blockIdx.x, xn);
  }
  const float inv_cols = 1.f / static_cast<float>(cols);
  int parity = 0;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x, parity ^= 1) {
    if constexpr (kPrefetch) {
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) xv[i] = xn[i];
      if (row + gridDim.x < rows) load_x(row + gridDim.x, xn);
    } else {
      load_x(row, xv);
    }
    const MeanM2 st = block_mean_m2(thread_mean_m2<T, VEC, ITEMS>(xv, cols), scratch, parity);
    const float mu = st.mean;
    const float rs = rsqrtf(st.m2 * inv_cols + eps);
    if (threadIdx.x == 0) {
      mean_out[row] = mu;
      rstd_out[row] = rs;
    }
    T* yr = y + row * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) store_normalized<T, TW, VEC>(yr, w, b, c, cols, vec_ok, xv[i], mu, rs);
    }
  }
}

// One warp a row (warp_rows.cuh), for 16-byte-aligned rows of 65 to 512 packs: mean and M2 by two
// passes over the lane's registers with a shuffle sum each (exact two-pass statistics, no block
// barrier), then the output. Up to 128 registers a lane; FULL rows (warp_rows::full_row) load w and
// b together with the row. (Lane-local statistics merged once across the warp, Chan et al.,
// measured no faster: docs/perf/norms.md.)
template <typename T, typename TW, int ITEMS, bool FULL>
__global__ void __launch_bounds__(warp_rows::kThreads, warp_rows::kMinBlocks)
layer_norm_forward_warp_kernel(const T* __restrict__ x, const TW* __restrict__ w, const TW* __restrict__ b,
                               T* __restrict__ y, float* __restrict__ mean_out, float* __restrict__ rstd_out,
                               int64_t rows, int64_t cols, float eps) {
  constexpr int VEC = rows::vec_of<T>();
  const int64_t row = warp_rows::row_of_warp();
  if (row >= rows) return;
  Pack<T, VEC> xv[ITEMS];
  warp_rows::load_row<T, VEC, ITEMS, FULL>(x + row * cols, cols, xv);
  const float inv_cols = 1.f / static_cast<float>(cols);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    if (FULL || warp_rows::col_of<VEC>(i) < cols) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) s += to_float(xv[i].v[k]);
    }
  }
  const float mu = warp_sum(s) * inv_cols;
  warp_rows::keep_packed(xv);
  float m2 = 0.f;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    if (FULL || warp_rows::col_of<VEC>(i) < cols) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float d = to_float(xv[i].v[k]) - mu;
        m2 = fmaf(d, d, m2);
      }
    }
  }
  const float rs = rsqrtf(warp_sum(m2) * inv_cols + eps);
  warp_rows::keep_packed(xv);
  if ((threadIdx.x & 31) == 0) {
    mean_out[row] = mu;
    rstd_out[row] = rs;
  }
  T* yr = y + row * cols;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int64_t c = warp_rows::col_of<VEC>(i);
    if (FULL || c < cols) store_normalized<T, TW, VEC>(yr, w, b, c, cols, true, xv[i], mu, rs);
  }
}

// Per row: x_hat = (x - mean) * rstd, g = w * dy, dx = (g - (x_hat * mean(x_hat * g) + mean(g))) * rstd.
// The block's own partial rows get sum(dy * x_hat) (dW) and sum(dy) (dB) over its rows.
template <typename T, typename TW, int CLS, bool vec_ok>
__global__ void __launch_bounds__(Classes<sizeof(T)>::table[CLS].max_threads, 1)
layer_norm_backward_kernel(const T* __restrict__ dy, const T* __restrict__ x, const TW* __restrict__ w,
                           const float* __restrict__ mean, const float* __restrict__ rstd, T* __restrict__ dx,
                           float* __restrict__ partials, int partial_rows, int64_t rows, int64_t cols) {
  constexpr int VEC = rows::vec_of<T>();
  constexpr int ITEMS = Classes<sizeof(T)>::table[CLS].items;
  // Register budget (128 a thread): the dW/dB sums of a thread's columns (at most 32 of each,
  // the classes guarantee it) always live in registers; up to 16 elements a thread, x, dy and w
  // stay there too between the two passes, beyond that the second pass reads them again (L1/L2
  // hits) rather than spill.
  constexpr bool kCacheRow = ITEMS * VEC <= 16;
  static_assert(ITEMS * VEC <= 32, "a size class holds more dW/dB sums than the register budget allows");
  __shared__ float scratch[2 * 32];
  const T zero = from_float<T>(0.f);
  float wc[kCacheRow ? ITEMS : 1][VEC];
  float dw[ITEMS][VEC], db[ITEMS][VEC];
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int64_t c = rows::col_of<VEC>(i);
    if constexpr (kCacheRow) {
      if (c < cols) rows::load_row_floats<TW, VEC>(w, c, cols, vec_ok, 0.f, wc[i]);
    }
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      dw[i][k] = 0.f;
      db[i][k] = 0.f;
    }
  }
  // The pack of x, dy and w a thread works on: from registers or read again.
  auto get = [&](int i, int64_t c, const T* xr, const T* gr, const Pack<T, VEC>* xv, const Pack<T, VEC>* gv,
                 Pack<T, VEC>& xp, Pack<T, VEC>& gp, float (&wv)[VEC]) {
    if constexpr (kCacheRow) {
      xp = xv[i];
      gp = gv[i];
#pragma unroll
      for (int k = 0; k < VEC; ++k) wv[k] = wc[i][k];
    } else {
      xp = rows::load_row_pack<T, VEC>(xr, c, cols, vec_ok, zero);
      gp = rows::load_row_pack<T, VEC>(gr, c, cols, vec_ok, zero);
      rows::load_row_floats<TW, VEC>(w, c, cols, vec_ok, 0.f, wv);
    }
  };

  const float inv_cols = 1.f / static_cast<float>(cols);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    const T* gr = dy + row * cols;
    const float mu = mean[row], rs = rstd[row];
    Pack<T, VEC> xv[kCacheRow ? ITEMS : 1], gv[kCacheRow ? ITEMS : 1];
    float acc[2] = {0.f, 0.f};  // sum(x_hat * g), sum(g); past the row's end dy = 0, so g = 0
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) {
        if constexpr (kCacheRow) {
          xv[i] = rows::load_row_pack<T, VEC>(xr, c, cols, vec_ok, zero);
          gv[i] = rows::load_row_pack<T, VEC>(gr, c, cols, vec_ok, zero);
        }
        Pack<T, VEC> xp, gp;
        float wv[VEC];
        get(i, c, xr, gr, xv, gv, xp, gp, wv);
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float g = wv[k] * to_float(gp.v[k]);
          acc[0] += (to_float(xp.v[k]) - mu) * rs * g;
          acc[1] += g;
        }
      }
    }
    rows::block_sum_n<2>(acc, scratch);
    const float c1 = acc[0] * inv_cols, c2 = acc[1] * inv_cols;
    T* dxr = dx + row * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) {
        Pack<T, VEC> xp, gp;
        float wv[VEC], out[VEC];
        get(i, c, xr, gr, xv, gv, xp, gp, wv);
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float xh = (to_float(xp.v[k]) - mu) * rs;
          const float d = to_float(gp.v[k]);
          out[k] = (wv[k] * d - (xh * c1 + c2)) * rs;
          dw[i][k] += d * xh;
          db[i][k] += d;
        }
        rows::store_row_floats<T, VEC>(dxr, c, cols, vec_ok, out);
      }
    }
  }
  if (partials != nullptr) {
    float* const pw = partials + static_cast<int64_t>(blockIdx.x) * cols;
    float* const pb = partials + static_cast<int64_t>(partial_rows + blockIdx.x) * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        if (c + k < cols) {
          pw[c + k] = dw[i][k];
          pb[c + k] = db[i][k];
        }
      }
    }
  }
}

// dW[c] (blockIdx.y 0) and dB[c] (blockIdx.y 1) = sums over the partial rows. A block owns 32
// columns; its 32 x 32 threads split the rows, each warp reading 32 consecutive columns (128
// bytes) at a time, then sum through shared memory.
template <typename TW>
__global__ void sum_partials_kernel(const float* __restrict__ partials, int partial_rows, int64_t cols,
                                    TW* __restrict__ dw, TW* __restrict__ db) {
  TW* const out = blockIdx.y == 0 ? dw : db;
  if (out == nullptr) return;  // the same for the whole block, before any barrier
  const float* src = partials + static_cast<int64_t>(blockIdx.y) * partial_rows * cols;
  __shared__ float tile[32][33];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  float s = 0.f;
  if (c < cols) {
#pragma unroll 4
    for (int p = threadIdx.y; p < partial_rows; p += 32) s += src[static_cast<int64_t>(p) * cols + c];
  }
  tile[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0) {
    float t = 0.f;
#pragma unroll
    for (int k = 0; k < 32; ++k) t += tile[k][threadIdx.x];
    if (c < cols) out[c] = from_float<TW>(t);
  }
}

template <typename T, typename TW>
int backward_grid(int64_t rows, const rows::RowPlan& p) {
  int blocks = 1;
  rows::dispatch_class<num_classes<T>()>(p.cls, [&](auto cls) {
    blocks = rows::resident_blocks(layer_norm_backward_kernel<T, TW, decltype(cls)::value, true>, p.threads,
                                   kBackwardBlocksPerSm, 0);
    return cudaSuccess;
  });
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(rows, blocks)));
}

}  // namespace

int64_t layer_norm_max_cols(DType x_dtype) {
  return x_dtype == DType::kF32 ? rows::max_cols(4, Classes<4>::table) : rows::max_cols(8, Classes<2>::table);
}

int layer_norm_backward_partial_rows(int64_t rows, int64_t cols, DType x_dtype, DType w_dtype) {
  int result = 1;
  dispatch_with_weight(x_dtype, w_dtype, [&](auto x_tag, auto w_tag) {
    using T = decltype(x_tag);
    using TW = decltype(w_tag);
    const rows::RowPlan p = rows::plan_row(cols, rows::vec_of<T>(), Classes<sizeof(T)>::table);
    if (p.cls >= 0) result = backward_grid<T, TW>(rows, p);
    return cudaSuccess;
  });
  return result;
}

cudaError_t layer_norm_forward(const LayerNormForwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  return dispatch_with_weight(a.x_dtype, a.w_dtype, [&](auto x_tag, auto w_tag) {
    using T = decltype(x_tag);
    using TW = decltype(w_tag);
    // (w and b, of T or float, are then 16-byte aligned at every pack too.)
    const bool vec = rows_allow_packs(a.cols, sizeof(T), {a.x, a.y, a.weight, a.bias});
    if (const int64_t packs = a.cols * sizeof(T) / 16; vec && warp_rows::items_for(packs) > 0) {
      return warp_rows::dispatch_row(packs, [&](auto items, auto full) {
        layer_norm_forward_warp_kernel<T, TW, decltype(items)::value, decltype(full)::value>
            <<<warp_rows::grid_for(a.rows), warp_rows::kThreads, 0, stream>>>(
                static_cast<const T*>(a.x), static_cast<const TW*>(a.weight), static_cast<const TW*>(a.bias),
                static_cast<T*>(a.y), a.mean, a.rstd, a.rows, a.cols, a.eps);
        return cudaGetLastError();
      });
    }
    const rows::RowPlan p = rows::plan_row(a.cols, rows::vec_of<T>(), FwdClasses<sizeof(T)>::table);
    return rows::dispatch_class<num_fwd_classes<T>()>(p.cls, [&](auto cls) {
      auto* kernel = vec ? layer_norm_forward_kernel<T, TW, decltype(cls)::value, true>
                         : layer_norm_forward_kernel<T, TW, decltype(cls)::value, false>;
      const int64_t grid = std::min<int64_t>(a.rows, rows::resident_blocks(kernel, p.threads, 32, 0));
      kernel<<<static_cast<unsigned>(grid), p.threads, 0, stream>>>(
          static_cast<const T*>(a.x), static_cast<const TW*>(a.weight), static_cast<const TW*>(a.bias),
          static_cast<T*>(a.y), a.mean, a.rstd, a.rows, a.cols, a.eps);
      return cudaGetLastError();
    });
  });
}

cudaError_t layer_norm_backward(const LayerNormBackwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  return dispatch_with_weight(a.x_dtype, a.w_dtype, [&](auto x_tag, auto w_tag) {
    using T = decltype(x_tag);
    using TW = decltype(w_tag);
    const rows::RowPlan p = rows::plan_row(a.cols, rows::vec_of<T>(), Classes<sizeof(T)>::table);
    const bool vec = rows_allow_packs(a.cols, sizeof(T), {a.x, a.grad_out, a.grad_in, a.weight});
    cudaError_t err = rows::dispatch_class<num_classes<T>()>(p.cls, [&](auto cls) {
      auto* kernel = vec ? layer_norm_backward_kernel<T, TW, decltype(cls)::value, true>
                         : layer_norm_backward_kernel<T, TW, decltype(cls)::value, false>;
      kernel<<<a.partial_rows, p.threads, 0, stream>>>(
          static_cast<const T*>(a.grad_out), static_cast<const T*>(a.x), static_cast<const TW*>(a.weight), a.mean,
          a.rstd, static_cast<T*>(a.grad_in), a.partials, a.partial_rows, a.rows, a.cols);
      return cudaGetLastError();
    });
    if (err != cudaSuccess || a.partials == nullptr) return err;
    const dim3 grid(static_cast<unsigned>((a.cols + 31) / 32), 2);
    sum_partials_kernel<TW><<<grid, dim3(32, 32), 0, stream>>>(a.partials, a.partial_rows, a.cols,
                                                               static_cast<TW*>(a.grad_weight),
                                                               static_cast<TW*>(a.grad_bias));
    return cudaGetLastError();
  });
}

}  // namespace liger::cuda
