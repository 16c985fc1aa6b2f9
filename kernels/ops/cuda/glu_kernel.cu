// SwiGLU/GeGLU elementwise forward and backward on CUDA.
//
// Memory bound, one pass: forward reads a, b and writes c; backward reads dc, a, b and writes da,
// db (into a's and b's memory when the binding asks for Liger's in-place backward: each element
// is read before it is written, by the same thread). Each thread moves 16-byte packs in a
// grid-stride loop over the flattened tensors; the n % VEC tail elements are taken by the first
// threads of the grid. Math in fp32 (common/glu_math.h), rounded once on store, except where
// Liger rounds the activation to the storage dtype before the product.
#include <algorithm>
#include <type_traits>

#include "common/cuda_utils.cuh"
#include "glu_launch.h"

namespace liger::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
struct RoundTo {
  __device__ __forceinline__ float operator()(float v) const { return round_to<T>(v); }
};

template <typename T, int VEC, GluActivation ACT>
__global__ void __launch_bounds__(kThreads)
glu_forward_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ c, int64_t n, float gm, float dm) {
  const int64_t packs = n / VEC;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = tid; p < packs; p += stride) {
    const Pack<T, VEC> av = load_pack<T, VEC>(a + p * VEC);
    const Pack<T, VEC> bv = load_pack<T, VEC>(b + p * VEC);
    Pack<T, VEC> cv;
#pragma unroll
    for (int k = 0; k < VEC; ++k)
      cv.v[k] = from_float<T>(glu::glu_forward<ACT, float>(to_float(av.v[k]), to_float(bv.v[k]), gm, dm, RoundTo<T>{}));
    store_pack<T, VEC>(c + p * VEC, cv);
  }
  const int64_t i = packs * VEC + tid;
  if (i < n) c[i] = from_float<T>(glu::glu_forward<ACT, float>(to_float(a[i]), to_float(b[i]), gm, dm, RoundTo<T>{}));
}

// No __restrict__ on a/da and b/db: they may be the same memory.
template <typename T, int VEC, GluActivation ACT>
__global__ void __launch_bounds__(kThreads)
glu_backward_kernel(const T* __restrict__ dc, const T* a, const T* b, T* da, T* db, int64_t n, float gm, float dm) {
  const int64_t packs = n / VEC;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = tid; p < packs; p += stride) {
    const Pack<T, VEC> dcv = load_pack<T, VEC>(dc + p * VEC);
    const Pack<T, VEC> av = load_pack<T, VEC>(a + p * VEC);
    const Pack<T, VEC> bv = load_pack<T, VEC>(b + p * VEC);
    Pack<T, VEC> dav, dbv;
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      float ga, gb;
      glu::glu_backward<ACT, float>(to_float(dcv.v[k]), to_float(av.v[k]), to_float(bv.v[k]), gm, dm, RoundTo<T>{},
                                    ga, gb);
      dav.v[k] = from_float<T>(ga);
      dbv.v[k] = from_float<T>(gb);
    }
    store_pack<T, VEC>(da + p * VEC, dav);
    store_pack<T, VEC>(db + p * VEC, dbv);
  }
  const int64_t i = packs * VEC + tid;
  if (i < n) {
    float ga, gb;
    glu::glu_backward<ACT, float>(to_float(dc[i]), to_float(a[i]), to_float(b[i]), gm, dm, RoundTo<T>{}, ga, gb);
    da[i] = from_float<T>(ga);
    db[i] = from_float<T>(gb);
  }
}

// Enough blocks to fill every SM (grid-stride beyond that), never more than the work needs;
// at least one block so the tail elements of a short tensor are covered.
template <typename Kernel>
int grid_for(Kernel kernel, int64_t n, int vec) {
  int per_sm = 0;
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0);
  const int64_t work = std::max<int64_t>(n / vec, n % vec);
  const int64_t needed = (work + kThreads - 1) / kThreads;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(needed, static_cast<int64_t>(std::max(1, per_sm)) * num_sms())));
}

template <typename T, int VEC, GluActivation ACT>
cudaError_t forward_typed(const GluForwardArgs& a, cudaStream_t s) {
  auto kernel = glu_forward_kernel<T, VEC, ACT>;
  kernel<<<grid_for(kernel, a.n, VEC), kThreads, 0, s>>>(static_cast<const T*>(a.a), static_cast<const T*>(a.b),
                                                         static_cast<T*>(a.c), a.n, a.gate_multiplier,
                                                         a.down_multiplier);
  return cudaGetLastError();
}

template <typename T, int VEC, GluActivation ACT>
cudaError_t backward_typed(const GluBackwardArgs& a, cudaStream_t s) {
  auto kernel = glu_backward_kernel<T, VEC, ACT>;
  kernel<<<grid_for(kernel, a.n, VEC), kThreads, 0, s>>>(
      static_cast<const T*>(a.grad_out), static_cast<const T*>(a.a), static_cast<const T*>(a.b),
      static_cast<T*>(a.grad_a), static_cast<T*>(a.grad_b), a.n, a.gate_multiplier, a.down_multiplier);
  return cudaGetLastError();
}

// Calls fn(T{}, std::integral_constant<GluActivation, ACT>{}) for the runtime dtype and activation.
template <typename Fn>
cudaError_t dispatch(DType dt, GluActivation act, Fn&& fn) {
  auto with_act = [&](auto tag) {
    using T = decltype(tag);
    return act == GluActivation::kSiLU ? fn(T{}, std::integral_constant<GluActivation, GluActivation::kSiLU>{})
                                       : fn(T{}, std::integral_constant<GluActivation, GluActivation::kGeluTanh>{});
  };
  return dispatch_dtype(dt, with_act);
}

}  // namespace

cudaError_t glu_forward(const GluForwardArgs& a, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  const bool vec = all_aligned16({a.a, a.b, a.c});
  return dispatch(a.dtype, a.act, [&](auto tag, auto act) {
    using T = decltype(tag);
    constexpr GluActivation ACT = decltype(act)::value;
    return vec ? forward_typed<T, 16 / sizeof(T), ACT>(a, stream) : forward_typed<T, 1, ACT>(a, stream);
  });
}

cudaError_t glu_backward(const GluBackwardArgs& a, cudaStream_t stream) {
  if (a.n == 0) return cudaSuccess;
  const bool vec = all_aligned16({a.grad_out, a.a, a.b, a.grad_a, a.grad_b});
  return dispatch(a.dtype, a.act, [&](auto tag, auto act) {
    using T = decltype(tag);
    constexpr GluActivation ACT = decltype(act)::value;
    return vec ? backward_typed<T, 16 / sizeof(T), ACT>(a, stream) : backward_typed<T, 1, ACT>(a, stream);
  });
}

}  // namespace liger::cuda
