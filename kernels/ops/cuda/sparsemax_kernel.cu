// Sparsemax forward and backward on CUDA.
//
// The forward never sorts: one block owns a row, keeps z = x - max(x) in fp32 registers and
// finds the threshold tau with the search of common/sparsemax_search.h (a few passes over the
// registers, each one block reduction of three sums), then writes max(z - tau, 0). So it reads x
// once and writes y once, like softmax. The backward reads y and dy once and writes dx once.
#include "../common/sparsemax_search.h"
#include "common/row_plan.cuh"
#include "row_op_launch.h"

namespace liger::cuda {
namespace {

using rows::RowClass;

// Size classes, smallest first: rows of up to 32768 elements in every dtype. The forward holds
// ITEMS * VEC fp32 values a thread (at most 64), within the 128 registers a thread that
// 512-thread blocks allow.
template <int ELEM_SIZE>
struct Classes;
template <>
struct Classes<2> {
  static constexpr RowClass table[] = {{1, 128}, {2, 256}, {4, 512}, {8, 512}};
};
template <>
struct Classes<4> {
  static constexpr RowClass table[] = {{1, 128}, {2, 256}, {4, 512}, {8, 512}, {16, 512}};
};
template <typename T>
constexpr const auto& classes() {
  return Classes<sizeof(T)>::table;
}
template <typename T>
constexpr int num_classes() {
  return sizeof(Classes<sizeof(T)>::table) / sizeof(RowClass);
}

template <typename T, int CLS, bool vec_ok>
__global__ void __launch_bounds__(Classes<sizeof(T)>::table[CLS].max_threads, 1)
sparsemax_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t cols) {
  constexpr int VEC = rows::vec_of<T>();
  constexpr int ITEMS = Classes<sizeof(T)>::table[CLS].items;
  __shared__ float scratch[3 * 32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    // Past the row's end z is -inf: never above lo, and max(z - mid, 0) = 0, so the passes need
    // no bounds checks.
    float z[ITEMS][VEC];
    float m = -INFINITY;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) {
        rows::load_row_floats<T, VEC>(xr, c, cols, vec_ok, -INFINITY, z[i]);
      } else {
#pragma unroll
        for (int k = 0; k < VEC; ++k) z[i][k] = -INFINITY;
      }
#pragma unroll
      for (int k = 0; k < VEC; ++k) m = fmaxf(m, z[i][k]);
    }
    m = block_max(m, scratch);
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) z[i][k] -= m;
    }
    SparsemaxSearch<float> search;
    bool done = false;
    while (!done) {
      const float lo = search.lo, mid = search.mid();
      float acc[3] = {0.f, 0.f, 0.f};  // sum of z > lo, count of z > lo, f(mid)
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float v = z[i][k];
          if (v > lo) {
            acc[0] += v;
            acc[1] += 1.f;
          }
          acc[2] += fmaxf(v - mid, 0.f);
        }
      }
      // Every thread gets the same sums, so every thread takes the same decision.
      rows::block_sum_n<3>(acc, scratch);
      done = search.update(acc[0], acc[1], acc[2]);
    }
    T* yr = y + row * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = rows::col_of<VEC>(i);
      if (c < cols) {
        float out[VEC];
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float d = z[i][k] - search.tau;
          out[k] = d > 0.f ? d : 0.f;
        }
        rows::store_row_floats<T, VEC>(yr, c, cols, vec_ok, out);
      }
    }
  }
}

template <typename T, int CLS, bool vec_ok>
__global__ void __launch_bounds__(Classes<sizeof(T)>::table[CLS].max_threads, 1)
sparsemax_backward_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx, int64_t rows,
                          int64_t cols) {
  constexpr int VEC = rows::vec_of<T>();
  constexpr int ITEMS = Classes<sizeof(T)>::table[CLS].items;
  // Up to 32 elements a thread, y and dy stay in registers between the two passes; beyond that
  // the second pass reads the row again (L1/L2 hits) rather than spill.
  constexpr bool kCache = ITEMS * VEC <= 32;
  __shared__ float scratch[2 * 32];
  const T zero = from_float<T>(0.f);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* yr = y + row * cols;
    const T* gr = dy + row * cols;
    Pack<T, VEC> yv[kCache ? ITEMS : 1], gv[kCache ? ITEMS : 1];
    float acc[2] = {0.f, 0.f};  // sum of dy over the support, its size
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
        for (int k = 0; k < VEC; ++k) {
          if (to_float(yp.v[k]) > 0.f) {
            acc[0] += to_float(gp.v[k]);
            acc[1] += 1.f;
          }
        }
      }
    }
    rows::block_sum_n<2>(acc, scratch);
    // Rounded to the gradient's dtype, as Liger's kernel does.
    const float mean = round_to<T>(acc[0] / fmaxf(acc[1], 1e-6f));
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
        for (int k = 0; k < VEC; ++k) out[k] = to_float(yp.v[k]) > 0.f ? to_float(gp.v[k]) - mean : 0.f;
        rows::store_row_floats<T, VEC>(dxr, c, cols, vec_ok, out);
      }
    }
  }
}

}  // namespace

int64_t sparsemax_max_cols(DType dtype) {
  return dtype == DType::kF32 ? rows::max_cols(4, classes<float>()) : rows::max_cols(8, classes<__half>());
}

cudaError_t sparsemax_forward(const RowForwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0) return cudaSuccess;
  return dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const rows::RowPlan p = rows::plan_row(a.cols, rows::vec_of<T>(), classes<T>());
    const bool vec = rows_allow_packs(a.cols, sizeof(T), {a.x, a.y});
    return rows::launch_row_blocks<num_classes<T>()>(
        p, vec, a.rows, stream,
        [](auto cls, auto vec_ok) {
          return sparsemax_forward_kernel<T, decltype(cls)::value, decltype(vec_ok)::value>;
        },
        static_cast<const T*>(a.x), static_cast<T*>(a.y), a.rows, a.cols);
  });
}

cudaError_t sparsemax_backward(const RowBackwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0) return cudaSuccess;
  return dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const rows::RowPlan p = rows::plan_row(a.cols, rows::vec_of<T>(), classes<T>());
    const bool vec = rows_allow_packs(a.cols, sizeof(T), {a.grad_out, a.y, a.grad_in});
    return rows::launch_row_blocks<num_classes<T>()>(
        p, vec, a.rows, stream,
        [](auto cls, auto vec_ok) {
          return sparsemax_backward_kernel<T, decltype(cls)::value, decltype(vec_ok)::value>;
        },
        static_cast<const T*>(a.grad_out), static_cast<const T*>(a.y), static_cast<T*>(a.grad_in), a.rows, a.cols);
  });
}

}  // namespace liger::cuda
