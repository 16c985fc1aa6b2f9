// Softmax forward and backward on CUDA.
//
// Memory bound: the forward reads x once and writes y once; the backward reads y and dy once and
// writes dx once. One block owns one row at a time and keeps it in registers (row_plan.cuh), so
// the max, the exp-sum and the output come from one read. The forward keeps exp(x - max) in fp32
// registers, so each element's exp is computed once.
#include "row_plan.cuh"
#include "softmax_launch.h"

namespace liger::cuda {
namespace {

using rows::RowClass;

// Size classes, smallest first: rows of up to 32768 16-bit or 16384 fp32 elements. The forward
// holds ITEMS * VEC fp32 values a thread (at most 64), within the 128 registers a thread that
// 512-thread blocks allow (1024-thread blocks would cap it at 64 and spill).
constexpr RowClass kClasses[] = {{1, 128}, {2, 256}, {4, 512}, {8, 512}};
constexpr int kNumClasses = sizeof(kClasses) / sizeof(kClasses[0]);

constexpr float kLog2e = 1.4426950408889634f;

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

// One block a row; the stride loop only matters past 2^31 - 1 rows.
unsigned grid_for(int64_t rows) { return static_cast<unsigned>(std::min<int64_t>(rows, 0x7fffffff)); }

}  // namespace

int64_t softmax_max_cols(DType dtype) { return rows::max_cols(16 / size_of(dtype), kClasses); }

cudaError_t softmax_forward(const SoftmaxForwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0) return cudaSuccess;
  return rows::dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const rows::RowPlan p = rows::plan_row(a.cols, rows::vec_of<T>(), kClasses);
    const bool vec = rows::vec_ok(a.cols, sizeof(T), {a.x, a.y});
    return rows::dispatch_class<kNumClasses>(p.cls, [&](auto cls) {
      auto* kernel = vec ? softmax_forward_kernel<T, decltype(cls)::value, true>
                         : softmax_forward_kernel<T, decltype(cls)::value, false>;
      kernel<<<grid_for(a.rows), p.threads, 0, stream>>>(
          static_cast<const T*>(a.x), static_cast<T*>(a.y), a.rows, a.cols);
      return cudaGetLastError();
    });
  });
}

cudaError_t softmax_backward(const SoftmaxBackwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0) return cudaSuccess;
  return rows::dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const rows::RowPlan p = rows::plan_row(a.cols, rows::vec_of<T>(), kClasses);
    const bool vec = rows::vec_ok(a.cols, sizeof(T), {a.grad_out, a.y, a.grad_in});
    return rows::dispatch_class<kNumClasses>(p.cls, [&](auto cls) {
      auto* kernel = vec ? softmax_backward_kernel<T, decltype(cls)::value, true>
                         : softmax_backward_kernel<T, decltype(cls)::value, false>;
      kernel<<<grid_for(a.rows), p.threads, 0, stream>>>(
          static_cast<const T*>(a.grad_out), static_cast<const T*>(a.y), static_cast<T*>(a.grad_in), a.rows,
          a.cols);
      return cudaGetLastError();
    });
  });
}

}  // namespace liger::cuda
