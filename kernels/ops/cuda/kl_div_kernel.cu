// KL divergence forward and backward on CUDA.
//
// Memory bound. The forward reads y_pred and y_true once (16-byte streaming loads, several
// packs in flight per thread) and, for the reduced modes, writes nothing but one double partial
// per block: every reduction only needs the total, so the BT x V elements are one flat array
// walked by a persistent grid (no row structure, no tail effect per row). Each thread sums a
// step's elements in fp32 and the steps in double; finish_sum adds the block partials in order.
// The backward reads y_true only (the gradient does not depend on y_pred) and writes the
// gradient: -y_true (or -exp(y_true)) times the upstream gradient and 1 / divisor, read on the
// device (no host synchronisation).
#include "common/divergence_reduce.h"
#include "common/divergence_utils.cuh"
#include "kl_div_launch.h"
#include "../common/divergence_math.h"

namespace liger::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;  // packs per thread per step: 4 x 2 x 16 bytes in flight

template <typename TP, typename TT, int VEC>
__global__ void __launch_bounds__(kThreads)
kl_forward_kernel(const TP* __restrict__ pred, const TT* __restrict__ target, float* __restrict__ out,
                  double* __restrict__ partials, int64_t n, bool log_target, float eps, bool elementwise) {
  __shared__ double scratch[32];
  const int64_t packs = n / VEC;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads * kUnroll;
  double acc = 0.0;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * kThreads * kUnroll + threadIdx.x; base < packs;
       base += step) {
    Pack<TP, VEC> p[kUnroll];
    Pack<TT, VEC> t[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * kThreads;
      if (i < packs) {
        p[u] = load_stream<TP, VEC>(pred + i * VEC);
        t[u] = load_stream<TT, VEC>(target + i * VEC);
      }
    }
    float part = 0.f;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * kThreads;
      if (i < packs) {
        Pack<float, VEC> l;
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          l.v[k] = kl_term<float>(to_float(p[u].v[k]), to_float(t[u].v[k]), log_target, eps);
          part += l.v[k];
        }
        if (elementwise) store_stream<float, VEC>(out + i * VEC, l);
      }
    }
    acc += part;
  }
  // The n % VEC elements past the last pack.
  if (blockIdx.x == 0) {
    for (int64_t i = packs * VEC + threadIdx.x; i < n; i += kThreads) {
      const float l = kl_term<float>(to_float(pred[i]), to_float(target[i]), log_target, eps);
      if (elementwise) out[i] = l;
      acc += l;
    }
  }
  if (elementwise) return;
  acc = block_sum_double(acc, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

template <typename TT, typename TG, int VEC>
__global__ void __launch_bounds__(kThreads)
kl_backward_kernel(const TT* __restrict__ target, const float* __restrict__ grad_out, TG* __restrict__ grad,
                   int64_t n, bool log_target, bool elementwise, float scale) {
  const float coef = elementwise ? scale : grad_out[0] * scale;
  const int64_t packs = n / VEC;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads * kUnroll;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * kThreads * kUnroll + threadIdx.x; base < packs;
       base += step) {
    Pack<TT, VEC> t[kUnroll];
    Pack<float, VEC> g[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * kThreads;
      if (i < packs) {
        t[u] = load_stream<TT, VEC>(target + i * VEC);
        if (elementwise) g[u] = load_stream<float, VEC>(grad_out + i * VEC);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * kThreads;
      if (i < packs) {
        Pack<TG, VEC> d;
#pragma unroll
        for (int k = 0; k < VEC; ++k)
          d.v[k] = from_float<TG>(kl_grad<float>(to_float(t[u].v[k]), log_target) * (elementwise ? g[u].v[k] * coef : coef));
        store_stream<TG, VEC>(grad + i * VEC, d);
      }
    }
  }
  if (blockIdx.x == 0) {
    for (int64_t i = packs * VEC + threadIdx.x; i < n; i += kThreads)
      grad[i] = from_float<TG>(kl_grad<float>(to_float(target[i]), log_target) * (elementwise ? grad_out[i] * coef : coef));
  }
}

// Calls fn(A{}, B{}) for a supported dtype pair: B == A, or B fp32.
template <typename Fn>
cudaError_t dispatch_pair(DType a, DType b, Fn&& fn) {
  if (a == b) {
    switch (a) {
      case DType::kF32: return fn(float{}, float{});
      case DType::kF16: return fn(__half{}, __half{});
      case DType::kBF16: return fn(__nv_bfloat16{}, __nv_bfloat16{});
    }
  } else if (b == DType::kF32) {
    switch (a) {
      case DType::kF16: return fn(__half{}, float{});
      case DType::kBF16: return fn(__nv_bfloat16{}, float{});
      default: break;
    }
  }
  return cudaErrorInvalidValue;
}

// 16-byte packs for the wider of two element types (the narrower one moves 8 bytes a pack).
template <typename A, typename B>
constexpr int vec_of() {
  return 16 / static_cast<int>(sizeof(A) > sizeof(B) ? sizeof(A) : sizeof(B));
}

int64_t step_blocks(int64_t n, int vec) { return (n / vec + kThreads * kUnroll - 1) / (kThreads * kUnroll); }

template <typename TP, typename TT, int VEC>
cudaError_t forward_vec(const KlDivForwardArgs& a, cudaStream_t s) {
  auto kernel = kl_forward_kernel<TP, TT, VEC>;
  const int blocks = persistent_blocks(kernel, kThreads, step_blocks(a.n, VEC), reduce_partials_capacity());
  kernel<<<blocks, kThreads, 0, s>>>(static_cast<const TP*>(a.y_pred), static_cast<const TT*>(a.y_true),
                                     static_cast<float*>(a.out), a.partials, a.n, a.log_target, a.eps, a.elementwise);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess || a.elementwise) return err;
  return finish_sum(a.partials, blocks, a.scale, nullptr, a.out, DType::kF32, s);
}

template <typename TT, typename TG, int VEC>
cudaError_t backward_vec(const KlDivBackwardArgs& a, cudaStream_t s) {
  auto kernel = kl_backward_kernel<TT, TG, VEC>;
  const int blocks = persistent_blocks(kernel, kThreads, step_blocks(a.n, VEC), reduce_partials_capacity());
  kernel<<<blocks, kThreads, 0, s>>>(static_cast<const TT*>(a.y_true), a.grad_out, static_cast<TG*>(a.grad), a.n,
                                     a.log_target, a.elementwise, a.scale);
  return cudaGetLastError();
}

}  // namespace

cudaError_t kl_div_forward(const KlDivForwardArgs& a, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  return dispatch_pair(a.pred_dtype, a.true_dtype, [&](auto p_tag, auto t_tag) {
    using TP = decltype(p_tag);
    using TT = decltype(t_tag);
    constexpr int V = vec_of<TP, TT>();
    const bool vec = aligned_to(a.y_pred, V * sizeof(TP)) && aligned_to(a.y_true, V * sizeof(TT)) &&
                     (!a.elementwise || aligned16(a.out));
    return vec ? forward_vec<TP, TT, V>(a, stream) : forward_vec<TP, TT, 1>(a, stream);
  });
}

cudaError_t kl_div_backward(const KlDivBackwardArgs& a, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  return dispatch_pair(a.grad_dtype, a.true_dtype, [&](auto g_tag, auto t_tag) {
    using TG = decltype(g_tag);
    using TT = decltype(t_tag);
    constexpr int V = vec_of<TG, TT>();
    const bool vec = aligned_to(a.y_true, V * sizeof(TT)) && aligned_to(a.grad, V * sizeof(TG)) &&
                     (!a.elementwise || aligned16(a.grad_out));
    return vec ? backward_vec<TT, TG, V>(a, stream) : backward_vec<TT, TG, 1>(a, stream);
  });
}

}  // namespace liger::cuda
