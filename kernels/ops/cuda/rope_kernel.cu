// RoPE on CUDA: q and k rotated in one launch.
//
// Memory bound: every element of q and k is read once and written once. One block per
// (batch, token) row handles all heads of q and then of k; a thread takes a pair of packs, VEC
// elements of the first half of a head and the matching VEC of the second half, with the VEC
// cos/sin values they need (read straight from global memory: a row of cos/sin is shared by
// every head of the block, so after the first head it comes from L1). 16-byte packs when
// head_dim/2, the strides and the pointers allow, scalar otherwise. fp32 math, rounded once.
#include <algorithm>

#include "common/cuda_utils.cuh"
#include "rope_launch.h"

namespace liger::cuda {
namespace {

constexpr int kMaxThreads = 512;

// VEC consecutive values of TC as floats, in 16-byte loads where VEC * sizeof(TC) allows.
template <typename TC, int VEC>
__device__ __forceinline__ void load_floats(const TC* p, float (&out)[VEC]) {
  constexpr int kChunk = VEC * sizeof(TC) >= 16 ? static_cast<int>(16 / sizeof(TC)) : VEC;
#pragma unroll
  for (int c = 0; c < VEC; c += kChunk) {
    const Pack<TC, kChunk> v = load_pack<TC, kChunk>(p + c);
#pragma unroll
    for (int i = 0; i < kChunk; ++i) out[c + i] = to_float(v.v[i]);
  }
}

template <typename T, typename TC, int VEC>
__global__ void __launch_bounds__(kMaxThreads) rope_kernel(const RopeArgs a) {
  const int64_t row = blockIdx.x;
  const int64_t b = row / a.seq_len, t = row - b * a.seq_len;
  const int half = static_cast<int>(a.head_dim / 2);
  const int packs_per_head = half / VEC;
  const int nq = a.q.in != nullptr ? static_cast<int>(a.q.heads) : 0;
  const int nk = a.k.in != nullptr ? static_cast<int>(a.k.heads) : 0;
  const int tasks = (nq + nk) * packs_per_head;
  const TC* cos_row = static_cast<const TC*>(a.cos) + b * a.cos_stride[0] + t * a.cos_stride[1];
  const TC* sin_row = static_cast<const TC*>(a.sin) + b * a.sin_stride[0] + t * a.sin_stride[1];
  const float sign = a.inverse ? -1.f : 1.f;
  for (int j = threadIdx.x; j < tasks; j += blockDim.x) {
    const int h = j / packs_per_head;
    const int i0 = (j - h * packs_per_head) * VEC;
    const bool is_q = h < nq;
    const int64_t hh = is_q ? h : h - nq;
    const T* in;
    T* out;
    if (is_q) {
      in = static_cast<const T*>(a.q.in) + b * a.q.in_stride[0] + hh * a.q.in_stride[1] + t * a.q.in_stride[2];
      out = static_cast<T*>(a.q.out) + b * a.q.out_stride[0] + hh * a.q.out_stride[1] + t * a.q.out_stride[2];
    } else {
      in = static_cast<const T*>(a.k.in) + b * a.k.in_stride[0] + hh * a.k.in_stride[1] + t * a.k.in_stride[2];
      out = static_cast<T*>(a.k.out) + b * a.k.out_stride[0] + hh * a.k.out_stride[1] + t * a.k.out_stride[2];
    }
    const Pack<T, VEC> x1 = load_pack<T, VEC>(in + i0);
    const Pack<T, VEC> x2 = load_pack<T, VEC>(in + half + i0);
    float c[VEC], s[VEC];
    load_floats<TC, VEC>(cos_row + i0, c);
    load_floats<TC, VEC>(sin_row + i0, s);
    Pack<T, VEC> y1, y2;
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const float a1 = to_float(x1.v[i]), a2 = to_float(x2.v[i]), si = sign * s[i];
      y1.v[i] = from_float<T>(a1 * c[i] - a2 * si);
      y2.v[i] = from_float<T>(a2 * c[i] + a1 * si);
    }
    store_pack<T, VEC>(out + i0, y1);
    store_pack<T, VEC>(out + half + i0, y2);
  }
}

// Whether VEC-element packs of T (and the matching cos/sin values of TC) are 16-byte aligned everywhere.
template <typename T, typename TC>
bool vectorizable(const RopeArgs& a) {
  constexpr int es = sizeof(T), es_c = sizeof(TC);
  if (!whole_packs(a.head_dim / 2, es)) return false;
  for (const RopeRotated* r : {&a.q, &a.k}) {
    if (r->in == nullptr) continue;
    if (!all_aligned16({r->in, r->out}) || !strides_keep_packs(r->in_stride, 3, es) ||
        !strides_keep_packs(r->out_stride, 3, es))
      return false;
  }
  return all_aligned16({a.cos, a.sin}) && strides_keep_packs(a.cos_stride, 2, es_c) &&
         strides_keep_packs(a.sin_stride, 2, es_c);
}

template <typename T, typename TC>
cudaError_t launch(const RopeArgs& a, cudaStream_t s) {
  const bool vec = vectorizable<T, TC>(a);
  const int v = vec ? static_cast<int>(16 / sizeof(T)) : 1;
  const int64_t heads = (a.q.in != nullptr ? a.q.heads : 0) + (a.k.in != nullptr ? a.k.heads : 0);
  const int64_t tasks = heads * (a.head_dim / 2 / v);
  const int threads = static_cast<int>(std::min<int64_t>(kMaxThreads, std::max<int64_t>(32, (tasks + 31) / 32 * 32)));
  const int64_t rows = a.batch * a.seq_len;
  if (vec) rope_kernel<T, TC, 16 / sizeof(T)><<<rows, threads, 0, s>>>(a);
  else rope_kernel<T, TC, 1><<<rows, threads, 0, s>>>(a);
  return cudaGetLastError();
}

}  // namespace

cudaError_t rope_apply(const RopeArgs& a, cudaStream_t stream) {
  const int64_t heads = (a.q.in != nullptr ? a.q.heads : 0) + (a.k.in != nullptr ? a.k.heads : 0);
  const int64_t rows = a.batch * a.seq_len;
  if (rows == 0 || heads == 0 || a.head_dim == 0) return cudaSuccess;
  if (rows > 0x7fffffff || heads * a.head_dim > 0x7fffffff) return cudaErrorInvalidConfiguration;
  const bool cos_f32 = a.cos_dtype == DType::kF32;
  switch (a.dtype) {
    case DType::kF32: return cos_f32 ? launch<float, float>(a, stream) : cudaErrorInvalidValue;
    case DType::kF16:
      return cos_f32 ? launch<__half, float>(a, stream)
                     : a.cos_dtype == DType::kF16 ? launch<__half, __half>(a, stream) : cudaErrorInvalidValue;
    case DType::kBF16:
      return cos_f32 ? launch<__nv_bfloat16, float>(a, stream)
                     : a.cos_dtype == DType::kBF16 ? launch<__nv_bfloat16, __nv_bfloat16>(a, stream)
                                                   : cudaErrorInvalidValue;
  }
  return cudaErrorInvalidValue;
}

}  // namespace liger::cuda
