// One chunk of the fused linear JSD on CUDA: from a chunk's student and teacher logits (rows, V),
// each row's loss and d loss / d student_logits, written over the student logits.
//
// One block owns one row at a time (a persistent grid over the chunk's rows) and makes three
// passes over it: (1) the softmax statistics of s / T and t / T, online (a running max and
// sum of exponentials per thread, merged across the block); (2) each element's JSD term and
// g = d loss / d log_q, summed into the row's loss and sum(g); (3) g again, and
// d loss / d s = (g - softmax(s / T) * sum(g)) / (n T), written in place. sum(g) needs the whole
// row before any element's gradient is known, hence the third pass; passes 1 and 2 use default
// loads so the row can still be in L2 for the next pass, pass 3 streams. Rows whose label is
// ignore_index get zeros without being read. Without write_grad (inference) there is no pass 3
// and nothing is written over the logits.
#include <cstdint>

#include "common/divergence_utils.cuh"
#include "fused_linear_jsd_launch.h"

namespace liger::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kUnroll = 2;  // packs of each row per thread per step

// Online log-sum-exp state: max m and sum of exp(x - m).
struct Lse {
  float m;
  float l;
};

template <bool kFast>
__device__ __forceinline__ Lse merge(Lse a, Lse b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return {m, 0.f};
  return {m, a.l * exp_acc<kFast>(a.m - m) + b.l * exp_acc<kFast>(b.m - m)};
}

// Adds VEC values (already divided by T) to the running state with one rescale.
template <bool kFast, int VEC>
__device__ __forceinline__ void accumulate(Lse& s, const float (&v)[VEC]) {
  float pm = v[0];
#pragma unroll
  for (int k = 1; k < VEC; ++k) pm = fmaxf(pm, v[k]);
  if (pm > s.m) {
    s.l *= exp_acc<kFast>(s.m - pm);
    s.m = pm;
  }
#pragma unroll
  for (int k = 0; k < VEC; ++k) s.l += exp_acc<kFast>(v[k] - s.m);
}

// Merges two states across the block; every thread gets the log-sum-exp of each.
template <bool kFast>
__device__ __forceinline__ float2 block_lse(Lse a, Lse b, float4* scratch) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    a = merge<kFast>(a, {__shfl_xor_sync(0xffffffffu, a.m, o), __shfl_xor_sync(0xffffffffu, a.l, o)});
    b = merge<kFast>(b, {__shfl_xor_sync(0xffffffffu, b.m, o), __shfl_xor_sync(0xffffffffu, b.l, o)});
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = make_float4(a.m, a.l, b.m, b.l);
  __syncthreads();
  Lse ra{-INFINITY, 0.f}, rb{-INFINITY, 0.f};
  for (int w = 0; w < kThreads / 32; ++w) {  // every thread merges the warps in the same order
    const float4 p = scratch[w];
    ra = merge<kFast>(ra, {p.x, p.y});
    rb = merge<kFast>(rb, {p.z, p.w});
  }
  __syncthreads();
  return make_float2(ra.m + log_acc<kFast>(ra.l), rb.m + log_acc<kFast>(rb.l));
}

// Sums two values across the block; every thread gets both sums.
__device__ __forceinline__ float2 block_sum2(float a, float b, float2* scratch) {
  a = warp_sum(a);
  b = warp_sum(b);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = make_float2(a, b);
  __syncthreads();
  float2 r = make_float2(0.f, 0.f);
  for (int w = 0; w < kThreads / 32; ++w) {
    r.x += scratch[w].x;
    r.y += scratch[w].y;
  }
  __syncthreads();
  return r;
}

template <typename T, int VEC, bool kFast>
__global__ void __launch_bounds__(kThreads)
jsd_chunk_kernel(T* __restrict__ student, const T* __restrict__ teacher, float* __restrict__ row_loss,
                 const int64_t* __restrict__ labels, const int64_t* __restrict__ n_valid, int64_t rows, int64_t cols,
                 float inv_temp, float beta, JsdMode mode, int64_t ignore_index, bool write_grad) {
  __shared__ float4 lse_scratch[kThreads / 32];
  __shared__ float2 sum_scratch[kThreads / 32];
  const int64_t n = *n_valid;
  const float inv_n = n > 0 ? 1.f / static_cast<float>(n) : 0.f;
  constexpr int64_t kStep = static_cast<int64_t>(kThreads) * VEC * kUnroll;
  const int64_t first = static_cast<int64_t>(threadIdx.x) * VEC;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    T* s = student + row * cols;
    const T* t = teacher + row * cols;
    if (labels != nullptr && labels[row] == ignore_index) {
      for (int64_t c = first; write_grad && c < cols; c += kThreads * VEC)
        store_stream<T, VEC>(s + c, zero_pack<T, VEC>());
      if (threadIdx.x == 0) row_loss[row] = 0.f;
      continue;
    }
    // Pass 1: log-sum-exp of s / T and t / T.
    Lse ls{-INFINITY, 0.f}, lt{-INFINITY, 0.f};
    for (int64_t c0 = first; c0 < cols; c0 += kStep) {
      Pack<T, VEC> sv[kUnroll], tv[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t c = c0 + u * kThreads * VEC;
        if (c < cols) {
          sv[u] = load_pack<T, VEC>(s + c);
          tv[u] = load_pack<T, VEC>(t + c);
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (c0 + u * kThreads * VEC < cols) {
          float a[VEC], b[VEC];
#pragma unroll
          for (int k = 0; k < VEC; ++k) {
            a[k] = to_float(sv[u].v[k]) * inv_temp;
            b[k] = to_float(tv[u].v[k]) * inv_temp;
          }
          accumulate<kFast, VEC>(ls, a);
          accumulate<kFast, VEC>(lt, b);
        }
      }
    }
    const float2 lse = block_lse<kFast>(ls, lt, lse_scratch);
    // g for the chain rule, and the element's log_q (kept for softmax(s / T) = exp(log_q)).
    auto term = [&](T sv, T tv, float& log_q) {
      log_q = to_float(sv) * inv_temp - lse.x;
      return jsd_chain_term<kFast>(log_q, to_float(tv) * inv_temp - lse.y, beta, mode);
    };
    // Pass 2: the row's loss and sum(g).
    float loss = 0.f, sum_g = 0.f;
    for (int64_t c0 = first; c0 < cols; c0 += kStep) {
      Pack<T, VEC> sv[kUnroll], tv[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t c = c0 + u * kThreads * VEC;
        if (c < cols) {
          sv[u] = load_pack<T, VEC>(s + c);
          tv[u] = load_pack<T, VEC>(t + c);
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (c0 + u * kThreads * VEC < cols) {
#pragma unroll
          for (int k = 0; k < VEC; ++k) {
            float log_q;
            const JsdTerm<float> e = term(sv[u].v[k], tv[u].v[k], log_q);
            loss += e.loss;
            sum_g += e.grad;
          }
        }
      }
    }
    const float2 sums = block_sum2(loss, sum_g, sum_scratch);
    // Pass 3: d loss / d s, over s.
    const float scale = inv_n * inv_temp;
    for (int64_t c0 = first; write_grad && c0 < cols; c0 += kStep) {
      Pack<T, VEC> sv[kUnroll], tv[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t c = c0 + u * kThreads * VEC;
        if (c < cols) {
          sv[u] = load_stream<T, VEC>(s + c);
          tv[u] = load_stream<T, VEC>(t + c);
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t c = c0 + u * kThreads * VEC;
        if (c < cols) {
          Pack<T, VEC> d;
#pragma unroll
          for (int k = 0; k < VEC; ++k) {
            float log_q;
            const JsdTerm<float> e = term(sv[u].v[k], tv[u].v[k], log_q);
            d.v[k] = from_float<T>((e.grad - exp_acc<kFast>(log_q) * sums.y) * scale);
          }
          store_stream<T, VEC>(s + c, d);
        }
      }
    }
    if (threadIdx.x == 0) row_loss[row] = sums.x * inv_n;
  }
}

template <typename T, int VEC>
cudaError_t launch(const JsdChunkArgs& a, cudaStream_t stream) {
  constexpr bool kFast = sizeof(T) == 2;
  auto kernel = jsd_chunk_kernel<T, VEC, kFast>;
  const int blocks = persistent_blocks(kernel, kThreads, a.rows, INT32_MAX);
  kernel<<<blocks, kThreads, 0, stream>>>(static_cast<T*>(a.student_logits), static_cast<const T*>(a.teacher_logits),
                                          a.row_loss, a.labels, a.n_valid, a.rows, a.cols, a.inv_temperature, a.beta,
                                          a.mode, a.ignore_index, a.write_grad);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_typed(const JsdChunkArgs& a, cudaStream_t stream) {
  constexpr int V = 16 / sizeof(T);
  const bool vec = rows_allow_packs(a.cols, sizeof(T), {a.student_logits, a.teacher_logits});
  return vec ? launch<T, V>(a, stream) : launch<T, 1>(a, stream);
}

}  // namespace

cudaError_t fused_linear_jsd_chunk(const JsdChunkArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  return dispatch_dtype(a.dtype, [&](auto tag) { return launch_typed<decltype(tag)>(a, stream); });
}

}  // namespace liger::cuda
