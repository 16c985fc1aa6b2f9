// RMSNorm forward and backward on CUDA.
//
// Memory bound: forward reads x once and writes y once; backward reads x and dy once and writes
// dx once (plus a small fp32 dW partial per block). A row is read from global memory exactly once
// and kept in registers (16-byte packs when the row allows).
// - Forward, 16-byte-aligned rows of 520-4096 16-bit or 260-2048 fp32 elements: one warp a row
//   (warp_rows.cuh: no block barrier; faster than the block kernel, docs/perf/norms.md).
// - Otherwise one block owns one row at a time, each thread ITEMS packs of VEC elements. The
//   backward grid is persistent (one block per resident slot) so each block accumulates its dW
//   partial in registers over many rows.
#include <algorithm>

#include "common/cuda_utils.cuh"
#include "rms_norm_launch.h"
#include "common/row_plan.cuh"
#include "common/warp_rows.cuh"

namespace liger::cuda {
namespace {

// A row is held in registers: at most 16 packs a thread, 1024 threads a block, so rows of up to
// 16384 packs (131072 bf16 or 65536 fp32 elements vectorized, 16384 otherwise). Longer rows are
// refused by the launcher (rms_norm_max_cols) and by the binding with a clear message.
constexpr int kMaxThreads = 1024;

// Launch bound per row split, so the compiler may give the register-cached rows the registers
// they need: ITEMS 1 rows have <= 128 packs, ITEMS 4 rows <= 1024 packs (256 threads, which
// covers H <= 8192 bf16 / 4096 fp32 without spills); ITEMS 16 takes up to 1024 threads and
// spills in the backward (correct, slower; only rows beyond those sizes use it).
template <int ITEMS>
constexpr int max_threads() {
  return ITEMS == 1 ? 128 : ITEMS <= 4 ? 256 : kMaxThreads;
}
// At least two resident blocks an SM (a register cap of 128 for ITEMS 4).
template <int ITEMS>
constexpr int min_blocks() {
  return ITEMS == 16 ? 1 : 2;
}

// rstd of one row from its sum of squares, with the rounding each casting mode implies.
template <typename T>
__device__ __forceinline__ float row_rstd(float sum_sq, int64_t cols, float eps, RmsCasting casting) {
  if (casting == RmsCasting::kNone) {
    const float ms = round_to<T>(sum_sq / static_cast<float>(cols));
    return round_to<T>(rsqrtf(ms + round_to<T>(eps)));
  }
  return rsqrtf(sum_sq / static_cast<float>(cols) + eps);
}

// y = x * rstd * (offset + w), rounded as the casting mode says.
template <typename T>
__device__ __forceinline__ float rms_out(float x, float r, float w_eff, RmsCasting casting) {
  switch (casting) {
    case RmsCasting::kLlama: return round_to<T>(x * r) * w_eff;
    case RmsCasting::kGemma: return x * r * w_eff;
    default: return round_to<T>(round_to<T>(x * r) * round_to<T>(w_eff));
  }
}

// Persistent: each block walks rows blockIdx.x, blockIdx.x + gridDim.x, ...
// The weight is re-read from L2 per row (staging it in shared memory measured slower:
// docs/perf/norms.md).
template <typename T, typename TW, int VEC, int ITEMS>
__global__ void __launch_bounds__(max_threads<ITEMS>(), min_blocks<ITEMS>())
rms_norm_forward_kernel(const T* __restrict__ x, const TW* __restrict__ w, T* __restrict__ y,
                        void* __restrict__ rstd_out, int64_t rows, int64_t cols, float eps,
                        float offset, RmsCasting casting) {
  __shared__ float scratch[32];
  // Two row buffers: the next row's loads are issued right after this row's local sum of
  // squares, so they are in flight during the block reduction and the stores.
  Pack<T, VEC> xv[ITEMS], xn[ITEMS];
  auto load_row = [&](Pack<T, VEC>(&buf)[ITEMS], int64_t row) {
    const T* xr = x + row * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = (static_cast<int64_t>(i) * blockDim.x + threadIdx.x) * VEC;
      if (c < cols) buf[i] = load_pack<T, VEC>(xr + c);
    }
  };
  int64_t row = blockIdx.x;
  if (row < rows) load_row(xv, row);
  for (; row < rows; row += gridDim.x) {
    float sum_sq = 0.f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = (static_cast<int64_t>(i) * blockDim.x + threadIdx.x) * VEC;
      if (c < cols) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float f = to_float(xv[i].v[k]);
          sum_sq += f * f;
        }
      }
    }
    const int64_t next = row + gridDim.x;
    if (next < rows) load_row(xn, next);
    sum_sq = block_sum(sum_sq, scratch);
    const float r = row_rstd<T>(sum_sq, cols, eps, casting);
    if (threadIdx.x == 0) {
      if (casting == RmsCasting::kNone) static_cast<T*>(rstd_out)[row] = from_float<T>(r);
      else static_cast<float*>(rstd_out)[row] = r;
    }
    T* yr = y + row * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = (static_cast<int64_t>(i) * blockDim.x + threadIdx.x) * VEC;
      if (c < cols) {
        // Registers hold the next row in flight, so the weight is not cached in them.
        Pack<TW, VEC> wv;
        if (w != nullptr) wv = load_pack<TW, VEC>(w + c);
        Pack<T, VEC> out;
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float w_eff = w != nullptr ? to_float(wv.v[k]) + offset : 1.f;
          out.v[k] = from_float<T>(rms_out<T>(to_float(xv[i].v[k]), r, w_eff, casting));
        }
        store_pack<T, VEC>(yr + c, out);
      }
    }
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) xv[i] = xn[i];
  }
}

// One warp a row (warp_rows.cuh), for 16-byte-aligned rows of 65 to 512 packs: no block barrier,
// so each warp streams its rows like an element-wise kernel. Up to 128 registers a lane (the row
// takes ITEMS * 4 of them packed). FULL rows (warp_rows::full_row) have no bounds tests, so the
// weight loads are issued with the row's. Variants tried and not kept (streaming cache hints,
// packed bf16x2 output, rounding modes as template parameters): docs/perf/norms.md.
template <typename T, typename TW, int ITEMS, bool FULL>
__global__ void __launch_bounds__(warp_rows::kThreads, warp_rows::kMinBlocks)
rms_norm_forward_warp_kernel(const T* __restrict__ x, const TW* __restrict__ w, T* __restrict__ y,
                             void* __restrict__ rstd_out, int64_t rows, int64_t cols, float eps, float offset,
                             RmsCasting casting) {
  constexpr int VEC = 16 / sizeof(T);
  const int64_t row = warp_rows::row_of_warp();
  if (row >= rows) return;
  Pack<T, VEC> xv[ITEMS];
  warp_rows::load_row<T, VEC, ITEMS, FULL>(x + row * cols, cols, xv);
  float sum_sq = 0.f;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    if (FULL || warp_rows::col_of<VEC>(i) < cols) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float f = to_float(xv[i].v[k]);
        sum_sq = fmaf(f, f, sum_sq);
      }
    }
  }
  const float r = row_rstd<T>(warp_sum(sum_sq), cols, eps, casting);
  warp_rows::keep_packed(xv);
  if ((threadIdx.x & 31) == 0) {
    if (casting == RmsCasting::kNone) static_cast<T*>(rstd_out)[row] = from_float<T>(r);
    else static_cast<float*>(rstd_out)[row] = r;
  }
  T* yr = y + row * cols;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int64_t c = warp_rows::col_of<VEC>(i);
    if (FULL || c < cols) {
      float wf[VEC];
      if (w != nullptr) {
        rows::load_row_floats<TW, VEC>(w, c, cols, true, 0.f, wf);
      }
      Pack<T, VEC> out;
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float w_eff = w != nullptr ? wf[k] + offset : 1.f;
        out.v[k] = from_float<T>(rms_out<T>(to_float(xv[i].v[k]), r, w_eff, casting));
      }
      store_pack<T, VEC>(yr + c, out);
    }
  }
}

template <typename T, typename TW, int VEC, int ITEMS>
__global__ void __launch_bounds__(max_threads<ITEMS>(), min_blocks<ITEMS>())
rms_norm_backward_kernel(const T* dy, const T* __restrict__ x, const TW* __restrict__ w,
                         const void* __restrict__ rstd_in, T* dx, float* __restrict__ w_partials,
                         int64_t rows, int64_t cols, float offset, RmsCasting casting) {
  __shared__ float scratch[32];
  float w_eff[ITEMS][VEC];
  float dw_acc[ITEMS][VEC];
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int64_t c = (static_cast<int64_t>(i) * blockDim.x + threadIdx.x) * VEC;
    Pack<TW, VEC> wv;
    if (w != nullptr && c < cols) wv = load_pack<TW, VEC>(w + c);
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      w_eff[i][k] = (w != nullptr && c < cols) ? to_float(wv.v[k]) + offset : 1.f;
      if (casting == RmsCasting::kNone) w_eff[i][k] = round_to<T>(w_eff[i][k]);
      dw_acc[i][k] = 0.f;
    }
  }
  const float inv_cols = 1.f / static_cast<float>(cols);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    const T* dyr = dy + row * cols;
    T* dxr = dx + row * cols;
    const float r = casting == RmsCasting::kNone ? to_float(static_cast<const T*>(rstd_in)[row])
                                                 : static_cast<const float*>(rstd_in)[row];
    Pack<T, VEC> xv[ITEMS], dyv[ITEMS];
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = (static_cast<int64_t>(i) * blockDim.x + threadIdx.x) * VEC;
      if (c < cols) {
        xv[i] = load_pack<T, VEC>(xr + c);
        dyv[i] = load_pack<T, VEC>(dyr + c);
#pragma unroll
        for (int k = 0; k < VEC; ++k) dot += to_float(dyv[i].v[k]) * w_eff[i][k] * to_float(xv[i].v[k]);
      }
    }
    dot = block_sum(dot, scratch);
    const float coef = r * r * inv_cols * dot;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = (static_cast<int64_t>(i) * blockDim.x + threadIdx.x) * VEC;
      if (c < cols) {
        Pack<T, VEC> out;
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float xf = to_float(xv[i].v[k]);
          const float g = to_float(dyv[i].v[k]);
          out.v[k] = from_float<T>(r * (g * w_eff[i][k] - coef * xf));
          const float x_hat = casting == RmsCasting::kLlama ? round_to<T>(xf * r) : xf * r;
          dw_acc[i][k] += g * x_hat;
        }
        store_pack<T, VEC>(dxr + c, out);
      }
    }
  }
  if (w_partials != nullptr) {
    float* pr = w_partials + static_cast<int64_t>(blockIdx.x) * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int64_t c = (static_cast<int64_t>(i) * blockDim.x + threadIdx.x) * VEC;
      if (c < cols) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) pr[c + k] = dw_acc[i][k];
      }
    }
  }
}

// dW[c] = sum over partial rows. A block owns 32 columns; its 32 x 32 threads split the rows,
// each warp reading 32 consecutive columns (128 bytes) at a time, then sum through shared memory.
template <typename TW>
__global__ void sum_partials_kernel(const float* __restrict__ partials, TW* __restrict__ out,
                                    int partial_rows, int64_t cols) {
  __shared__ float tile[32][33];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  float s = 0.f;
  if (c < cols) {
#pragma unroll 4
    for (int p = threadIdx.y; p < partial_rows; p += 32) s += partials[static_cast<int64_t>(p) * cols + c];
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

// How a row is split: VEC elements a pack, ITEMS packs a thread, `threads` threads a block.
struct RowPlan {
  int vec;
  int items;
  int threads;
};

// The forward prefers 4 packs a thread (more loads in flight per thread); the backward, whose
// per-element work is heavier, prefers 2 packs and twice the threads (measured faster each way:
// docs/perf/norms.md).
RowPlan plan_row(int64_t cols, int elem_size, bool vectorizable, bool prefer_threads) {
  const int vec = vectorizable ? 16 / elem_size : 1;
  const int64_t packs = (cols + vec - 1) / vec;
  int items = packs <= 128 ? 1 : (prefer_threads && packs <= 512) ? 2 : packs <= 1024 ? 4 : 16;
  int64_t threads = (packs + items - 1) / items;
  threads = std::max<int64_t>(32, (threads + 31) / 32 * 32);
  return {vec, items, static_cast<int>(std::min<int64_t>(threads, kMaxThreads))};
}

bool fits(const RowPlan& p, int64_t cols) {
  return static_cast<int64_t>(p.vec) * p.items * p.threads >= cols;
}

// Calls fn(std::integral_constant<int, ITEMS>{}) for the plan's items: the packs a thread the
// block kernels are instantiated for (plan_row picks 1, 2, 4 or 16).
template <typename Fn>
decltype(auto) dispatch_items(int items, Fn&& fn) {
  switch (items) {
    case 1: return fn(std::integral_constant<int, 1>{});
    case 2: return fn(std::integral_constant<int, 2>{});
    case 4: return fn(std::integral_constant<int, 4>{});
    default: return fn(std::integral_constant<int, 16>{});
  }
}

template <typename T, typename TW, int VEC, int ITEMS>
int64_t forward_grid(int64_t rows, int threads) {
  int per_sm = 0;
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, rms_norm_forward_kernel<T, TW, VEC, ITEMS>, threads, 0);
  return std::max<int64_t>(1, std::min<int64_t>(rows, static_cast<int64_t>(std::max(1, per_sm)) * num_sms()));
}

template <typename T, typename TW, int VEC>
cudaError_t forward_vec(const RmsNormForwardArgs& a, const RowPlan& p, cudaStream_t s) {
  dispatch_items(p.items, [&](auto items) {
    constexpr int ITEMS = decltype(items)::value;
    rms_norm_forward_kernel<T, TW, VEC, ITEMS><<<forward_grid<T, TW, VEC, ITEMS>(a.rows, p.threads), p.threads, 0, s>>>(
        static_cast<const T*>(a.x), static_cast<const TW*>(a.weight), static_cast<T*>(a.y), a.rstd, a.rows, a.cols,
        a.eps, a.offset, a.casting);
  });
  return cudaGetLastError();
}

template <typename T, typename TW, int VEC, int ITEMS>
int backward_blocks(int threads) {
  int per_sm = 0;
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, rms_norm_backward_kernel<T, TW, VEC, ITEMS>,
                                                threads, 0);
  // At most 4 blocks an SM: each block writes a (cols,) fp32 partial of dW, so more blocks
  // would mean more partial traffic than the rows they hide latency for.
  return std::min(4, std::max(1, per_sm)) * num_sms();
}

template <typename T, typename TW, int VEC>
int partial_rows_vec(int64_t rows, const RowPlan& p) {
  const int blocks = dispatch_items(
      p.items, [&](auto items) { return backward_blocks<T, TW, VEC, decltype(items)::value>(p.threads); });
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(rows, blocks)));
}

template <typename T, typename TW, int VEC>
cudaError_t backward_vec(const RmsNormBackwardArgs& a, const RowPlan& p, cudaStream_t s) {
  dispatch_items(p.items, [&](auto items) {
    rms_norm_backward_kernel<T, TW, VEC, decltype(items)::value><<<a.partial_rows, p.threads, 0, s>>>(
        static_cast<const T*>(a.grad_out), static_cast<const T*>(a.x), static_cast<const TW*>(a.weight), a.rstd,
        static_cast<T*>(a.grad_in), a.weight_partials, a.rows, a.cols, a.offset, a.casting);
  });
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess || a.weight_partials == nullptr || a.grad_weight == nullptr) return err;
  const int64_t blocks = (a.cols + 31) / 32;
  sum_partials_kernel<TW><<<blocks, dim3(32, 32), 0, s>>>(a.weight_partials, static_cast<TW*>(a.grad_weight),
                                                    a.partial_rows, a.cols);
  return cudaGetLastError();
}

// Calls fn(T{}, TW{}, std::integral_constant<int, VEC>{}) for the input and weight dtypes and the
// plan's pack width: 1 element, or 16 bytes of T.
template <typename Fn>
cudaError_t dispatch_plan(DType x_dtype, DType w_dtype, const RowPlan& p, Fn&& fn) {
  return dispatch_with_weight(x_dtype, w_dtype, [&](auto x_tag, auto w_tag) {
    constexpr int kPackVec = 16 / sizeof(decltype(x_tag));
    return p.vec == 1 ? fn(x_tag, w_tag, std::integral_constant<int, 1>{})
                      : fn(x_tag, w_tag, std::integral_constant<int, kPackVec>{});
  });
}

}  // namespace

int64_t rms_norm_max_cols(int64_t cols, DType x_dtype) {
  return whole_packs(cols, size_of(x_dtype)) ? 16LL * kMaxThreads * (16 / size_of(x_dtype)) : 16LL * kMaxThreads;
}

int rms_norm_backward_partial_rows(int64_t rows, int64_t cols, DType x_dtype, DType w_dtype) {
  const RowPlan p = plan_row(cols, size_of(x_dtype), whole_packs(cols, size_of(x_dtype)), true);
  int result = 1;
  dispatch_plan(x_dtype, w_dtype, p, [&](auto x_tag, auto w_tag, auto vec) {
    result = partial_rows_vec<decltype(x_tag), decltype(w_tag), decltype(vec)::value>(rows, p);
    return cudaSuccess;
  });
  return result;
}

cudaError_t rms_norm_forward(const RmsNormForwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  const int es = size_of(a.x_dtype);
  const bool vec = rows_allow_packs(a.cols, es, {a.x, a.y}) &&
                   (a.weight == nullptr || rows_allow_packs(a.cols, size_of(a.w_dtype), {a.weight}));
  if (const int64_t packs = a.cols * es / 16; vec && warp_rows::items_for(packs) > 0) {
    return dispatch_with_weight(a.x_dtype, a.w_dtype, [&](auto x_tag, auto w_tag) {
      using T = decltype(x_tag);
      using TW = decltype(w_tag);
      return warp_rows::dispatch_row(packs, [&](auto items, auto full) {
        rms_norm_forward_warp_kernel<T, TW, decltype(items)::value, decltype(full)::value>
            <<<warp_rows::grid_for(a.rows), warp_rows::kThreads, 0, stream>>>(
                static_cast<const T*>(a.x), static_cast<const TW*>(a.weight), static_cast<T*>(a.y), a.rstd, a.rows,
                a.cols, a.eps, a.offset, a.casting);
        return cudaGetLastError();
      });
    });
  }
  const RowPlan p = plan_row(a.cols, es, vec, false);
  if (!fits(p, a.cols)) return cudaErrorInvalidConfiguration;
  return dispatch_plan(a.x_dtype, a.w_dtype, p, [&](auto x_tag, auto w_tag, auto vec) {
    return forward_vec<decltype(x_tag), decltype(w_tag), decltype(vec)::value>(a, p, stream);
  });
}

cudaError_t rms_norm_backward(const RmsNormBackwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  const int es = size_of(a.x_dtype);
  const bool vec = rows_allow_packs(a.cols, es, {a.x, a.grad_out, a.grad_in}) &&
                   (a.weight == nullptr || rows_allow_packs(a.cols, size_of(a.w_dtype), {a.weight}));
  const RowPlan p = plan_row(a.cols, es, vec, true);
  if (!fits(p, a.cols)) return cudaErrorInvalidConfiguration;
  return dispatch_plan(a.x_dtype, a.w_dtype, p, [&](auto x_tag, auto w_tag, auto vec) {
    return backward_vec<decltype(x_tag), decltype(w_tag), decltype(vec)::value>(a, p, stream);
  });
}

}  // namespace liger::cuda
