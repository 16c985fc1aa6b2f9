// Softmax forward and backward on CUDA.
//
// Memory bound: the forward reads x once and writes y once; the backward reads y and dy once and
// writes dx once. Rows are read once into registers, so the max, the exp-sum and the output come
// from one read: one warp a row for 16-byte-aligned rows of 520-4096 16-bit or 260-2048 fp32
// elements in the forward (warp_rows.cuh), otherwise one block a row (row_plan.cuh). The block
// forward keeps exp(x - max) in fp32 registers, so each element's exp is computed once.
#include "common/row_plan.cuh"
#include "common/warp_rows.cuh"
#include "row_op_launch.h"

namespace liger::cuda {
namespace {

using rows::RowClass;

// Size classes, smallest first: rows of up to 32768 16-bit or 16384 fp32 elements. The forward
// holds ITEMS * VEC fp32 values a thread (at most 64), within the 128 registers a thread that
// 512-thread blocks allow (1024-thread blocks would cap it at 64 and spill).
constexpr RowClass kClasses[] = {{1, 128}, {2, 256}, {4, 512}, {8, 512}};
constexpr int kNumClasses = sizeof(kClasses) / sizeof(kClasses[0]);

template <typename T, int CLS, bool vec_ok>
__global__ void __launch_bounds__(kClasses[CLS].max_threads, 1)
softmax_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t cols) {
  constexpr int VEC = rows::vec_of<T>();
  constexpr int ITEMS = kClasses[CLS].items;
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    float v[ITEMS][VEC];
    float m = -INFINITY;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) {
        rows::load_row_floats<T, VEC>(xr, c, cols, vec_ok, -INFINITY, v[i]);
#pragma unroll
        for (int k = 0; k < VEC; ++k) m = fmaxf(m, v[i][k]);
      }
    }
    m = block_max(m, scratch);
    // exp2 of a scaled difference: one MUFU op an element. Past the row's end v is -inf, so its
    // exp is 0; a row of -inf has m = -inf and every exp NaN, like torch.softmax.
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (rows::col_of<VEC>(i) < cols) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          v[i][k] = exp2f((v[i][k] - m) * kLog2e);
          s += v[i][k];
        }
      }
    }
    s = block_sum(s, scratch);
    const float inv = 1.f / s;
    T* yr = y + row * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) v[i][k] *= inv;
        rows::store_row_floats<T, VEC>(yr, c, cols, vec_ok, v[i]);
      }
    }
  }
}

// One warp a row (warp_rows.cuh), for 16-byte-aligned rows of 65 to 512 packs: max and exp-sum by
// shuffles, no block barrier. A lane keeps its exps in fp32 registers when they fit in 64 of them;
// longer 16-bit rows (4096 bf16: 128 values a lane) keep only the packed row and compute each exp
// twice. Without the 16-bit fast path (packed max, one FMA and one MUFU an exp: see lane_max and
// exp_of) the row is issue-bound at about 18 instructions an element; keep_packed stops the
// compiler from keeping the fp32 conversions live. Recomputing rows keep their bounds tests (a
// FULL build of them measured slower); FULL rows that keep their exps skip them. The figures, and
// the online-normalizer variant measured and not kept: docs/perf/softmax.md.
constexpr int kWarpKeepValues = 64;

// The largest of this lane's valid packs of a row. 16-bit packs compare pairs with one packed
// instruction (max.bf16x2 / max.f16x2) instead of converting each element first: a quarter of the
// instructions. Like fmaxf, both drop NaN; a NaN still makes its row NaN through the exps.
template <typename T, int VEC, int ITEMS, typename Valid>
__device__ __forceinline__ float lane_max(const Pack<T, VEC> (&xv)[ITEMS], Valid valid) {
  if constexpr (sizeof(T) == 2) {
    using T2 = std::conditional_t<std::is_same_v<T, __half>, __half2, __nv_bfloat162>;
    T2 m2;
    if constexpr (std::is_same_v<T, __half>) m2 = __float2half2_rn(-INFINITY);
    else m2 = __float2bfloat162_rn(-INFINITY);
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (valid(i)) {
        const T2* pairs = reinterpret_cast<const T2*>(xv[i].v);
#pragma unroll
        for (int k = 0; k < VEC / 2; ++k) m2 = __hmax2(m2, pairs[k]);
      }
    }
    return fmaxf(to_float(m2.x), to_float(m2.y));
  } else {
    float m = -INFINITY;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (valid(i)) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) m = fmaxf(m, to_float(xv[i].v[k]));
      }
    }
    return m;
  }
}

template <typename T, int ITEMS, bool FULL>
__global__ void __launch_bounds__(warp_rows::kThreads, warp_rows::kMinBlocks)
softmax_forward_warp_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t cols) {
  constexpr int VEC = rows::vec_of<T>();
  constexpr bool kKeepExp = ITEMS * VEC <= kWarpKeepValues;
  const int64_t row = warp_rows::row_of_warp();
  if (row >= rows) return;
  Pack<T, VEC> xv[ITEMS];
  warp_rows::load_row<T, VEC, ITEMS, FULL>(x + row * cols, cols, xv);
  auto valid = [&](int i) { return FULL || warp_rows::col_of<VEC>(i) < cols; };
  // A row of -inf gives NaN like torch.softmax (exp of -inf - -inf).
  const float m = warp_max(lane_max<T, VEC, ITEMS>(xv, valid));
  float e[kKeepExp ? ITEMS : 1][VEC];
  if constexpr (!kKeepExp) warp_rows::keep_packed(xv);
  // fp32 rows: exp2 of a scaled difference, as the block kernel (x - m first: exact for close
  // values, so large logits lose no precision). 16-bit rows: one FMA and one MUFU an element; the
  // FMA's rounding of x log2(e) (relative 2^-24) is far below the output's 2^-8 or 2^-11, and the
  // three instructions an element it saves keep the 4096-wide bf16 row, whose exps are taken
  // twice, within the SM's issue rate.
  const float mb = m * kLog2e;
  auto exp_of = [&](int i, int k) {
    if constexpr (sizeof(T) == 2) return exp2_ftz(fmaf(to_float(xv[i].v[k]), kLog2e, -mb));
    else return exp2f((to_float(xv[i].v[k]) - m) * kLog2e);
  };
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    if (valid(i)) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float ek = exp_of(i, k);
        if constexpr (kKeepExp) e[i][k] = ek;
        s += ek;
      }
    }
  }
  const float inv = 1.f / warp_sum(s);
  if constexpr (!kKeepExp) warp_rows::keep_packed(xv);
  T* yr = y + row * cols;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int64_t c = warp_rows::col_of<VEC>(i);
    if (FULL || c < cols) {
      float out[VEC];
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        if constexpr (kKeepExp) out[k] = e[i][k] * inv;
        else out[k] = exp_of(i, k) * inv;
      }
      rows::store_row_floats<T, VEC>(yr, c, cols, true, out);
    }
  }
}

template <typename T, int CLS, bool vec_ok>
__global__ void __launch_bounds__(kClasses[CLS].max_threads, 1)
softmax_backward_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx, int64_t rows,
                        int64_t cols) {
  constexpr int VEC = rows::vec_of<T>();
  constexpr int ITEMS = kClasses[CLS].items;
  // Up to 32 elements a thread, y and dy stay in registers between the two passes. Beyond that
  // the compiler keeps both as fp32 (128 registers) and spills, so the second pass reads the
  // row again (the block read it a moment ago: L1/L2 hits).
  constexpr bool kCache = ITEMS * VEC <= 32;
  __shared__ float scratch[32];
  const T zero = from_float<T>(0.f);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* yr = y + row * cols;
    const T* gr = dy + row * cols;
    Pack<T, VEC> yv[kCache ? ITEMS : 1], gv[kCache ? ITEMS : 1];
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) {
        const Pack<T, VEC> yp = rows::load_row_pack<T, VEC>(yr, c, cols, vec_ok, zero);
        const Pack<T, VEC> gp = rows::load_row_pack<T, VEC>(gr, c, cols, vec_ok, zero);
        if constexpr (kCache) {
          yv[i] = yp;
          gv[i] = gp;
        }
#pragma unroll
        for (int k = 0; k < VEC; ++k) dot += to_float(yp.v[k]) * to_float(gp.v[k]);
      }
    }
    dot = block_sum(dot, scratch);
    T* dxr = dx + row * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) {
        Pack<T, VEC> yp, gp;
        if constexpr (kCache) {
          yp = yv[i];
          gp = gv[i];
        } else {
          yp = rows::load_row_pack<T, VEC>(yr, c, cols, vec_ok, zero);
          gp = rows::load_row_pack<T, VEC>(gr, c, cols, vec_ok, zero);
        }
        float out[VEC];
#pragma unroll
        for (int k = 0; k < VEC; ++k) out[k] = to_float(yp.v[k]) * (to_float(gp.v[k]) - dot);
        rows::store_row_floats<T, VEC>(dxr, c, cols, vec_ok, out);
      }
    }
  }
}

}  // namespace

int64_t softmax_max_cols(DType dtype) { return rows::max_cols(16 / size_of(dtype), kClasses); }

cudaError_t softmax_forward(const RowForwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0) return cudaSuccess;
  return dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const bool vec = rows_allow_packs(a.cols, sizeof(T), {a.x, a.y});
    if (const int64_t packs = a.cols * sizeof(T) / 16; vec && warp_rows::items_for(packs) > 0) {
      return warp_rows::dispatch_row(packs, [&](auto items, auto full) {
        constexpr int kItems = decltype(items)::value;
        // Rows whose exps are recomputed (kWarpKeepValues) keep the bounds tests even when FULL:
        // measured faster that way (docs/perf/softmax.md).
        constexpr bool kFull = decltype(full)::value && kItems * rows::vec_of<T>() <= kWarpKeepValues;
        softmax_forward_warp_kernel<T, kItems, kFull><<<warp_rows::grid_for(a.rows), warp_rows::kThreads, 0, stream>>>(
            static_cast<const T*>(a.x), static_cast<T*>(a.y), a.rows, a.cols);
        return cudaGetLastError();
      });
    }
    const rows::RowPlan p = rows::plan_row(a.cols, rows::vec_of<T>(), kClasses);
    return rows::launch_row_blocks<kNumClasses>(
        p, vec, a.rows, stream,
        [](auto cls, auto vec_ok) { return softmax_forward_kernel<T, decltype(cls)::value, decltype(vec_ok)::value>; },
        static_cast<const T*>(a.x), static_cast<T*>(a.y), a.rows, a.cols);
  });
}

cudaError_t softmax_backward(const RowBackwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0) return cudaSuccess;
  return dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const rows::RowPlan p = rows::plan_row(a.cols, rows::vec_of<T>(), kClasses);
    const bool vec = rows_allow_packs(a.cols, sizeof(T), {a.grad_out, a.y, a.grad_in});
    return rows::launch_row_blocks<kNumClasses>(
        p, vec, a.rows, stream,
        [](auto cls, auto vec_ok) { return softmax_backward_kernel<T, decltype(cls)::value, decltype(vec_ok)::value>; },
        static_cast<const T*>(a.grad_out), static_cast<const T*>(a.y), static_cast<T*>(a.grad_in), a.rows, a.cols);
  });
}

}  // namespace liger::cuda
