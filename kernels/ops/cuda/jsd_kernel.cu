// JSD forward on CUDA: one pass over log_q and log_p that writes the gradient (or, for
// inference, computes the loss only: kGrad false).
//
// Memory bound: reads both inputs once and writes d loss / d log_q once (16-byte streaming
// accesses, several packs in flight per thread), nothing else of size BT x V. The work is the
// (row, segment) pairs of the matrix, a segment being one block step of a row (kThreads x
// kUnroll packs), walked by a persistent grid: load balance does not depend on BT, and a row's
// label is read once per segment. Ignored rows are written as zeros without being read. Each
// thread sums its segment's losses in fp32 and the segments in double; finish_sum adds the
// block partials in order and divides by n, which stays on the device (no host sync).
#include "common/divergence_reduce.h"
#include "common/divergence_utils.cuh"
#include "jsd_launch.h"

namespace liger::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;  // packs of each input per thread per segment

// kFast: hardware exp / log approximations, for 16-bit inputs whose rounding dwarfs theirs.
// kGrad false: the loss only (inference), dx is not touched.
template <typename T, int VEC, bool kFast, bool kGrad>
__global__ void __launch_bounds__(kThreads)
jsd_forward_kernel(const T* __restrict__ x, const T* __restrict__ y, T* __restrict__ dx,
                   const int64_t* __restrict__ labels, const int64_t* __restrict__ n_valid, int64_t rows,
                   int64_t cols, float beta, JsdMode mode, int64_t ignore_index, double* __restrict__ partials) {
  __shared__ double scratch[32];
  const int64_t n = n_valid != nullptr ? *n_valid : rows;
  const float inv_n = n > 0 ? 1.f / static_cast<float>(n) : 0.f;
  constexpr int kSeg = kThreads * kUnroll * VEC;
  const int64_t segs = (cols + kSeg - 1) / kSeg;
  const int64_t items = rows * segs;
  double acc = 0.0;
  for (int64_t w = blockIdx.x; w < items; w += gridDim.x) {
    const int64_t row = w / segs;
    const int64_t c0 = (w - row * segs) * kSeg + static_cast<int64_t>(threadIdx.x) * VEC;
    const int64_t off = row * cols;
    // In the vector path cols % VEC == 0, so a pack starting inside the row ends inside it.
    if (labels != nullptr && labels[row] == ignore_index) {
      if constexpr (kGrad) {
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int64_t c = c0 + u * kThreads * VEC;
          if (c < cols) store_stream<T, VEC>(dx + off + c, zero_pack<T, VEC>());
        }
      }
      continue;
    }
    Pack<T, VEC> xv[kUnroll], yv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = c0 + u * kThreads * VEC;
      if (c < cols) {
        xv[u] = load_stream<T, VEC>(x + off + c);
        yv[u] = load_stream<T, VEC>(y + off + c);
      }
    }
    float part = 0.f;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = c0 + u * kThreads * VEC;
      if (c < cols) {
        Pack<T, VEC> g;
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const JsdTerm<float> e = jsd_term<kFast>(to_float(xv[u].v[k]), to_float(yv[u].v[k]), beta, mode);
          part += e.loss;
          if constexpr (kGrad) g.v[k] = from_float<T>(e.grad * inv_n);
        }
        if constexpr (kGrad) store_stream<T, VEC>(dx + off + c, g);
      }
    }
    acc += part;
  }
  acc = block_sum_double(acc, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

template <typename T, int VEC, bool kGrad>
cudaError_t launch(const JsdForwardArgs& a, cudaStream_t s) {
  constexpr bool kFast = sizeof(T) == 2;
  auto kernel = jsd_forward_kernel<T, VEC, kFast, kGrad>;
  constexpr int kSeg = kThreads * kUnroll * VEC;
  const int64_t items = a.rows * ((a.cols + kSeg - 1) / kSeg);
  const int blocks = persistent_blocks(kernel, kThreads, items, reduce_partials_capacity());
  kernel<<<blocks, kThreads, 0, s>>>(static_cast<const T*>(a.input), static_cast<const T*>(a.target),
                                     static_cast<T*>(a.grad_input), a.labels, a.n_valid, a.rows, a.cols, a.beta,
                                     a.mode, a.ignore_index, a.partials);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  // Without labels n = rows, known here; with labels it is read on the device.
  const double scale = a.n_valid != nullptr ? 1.0 : 1.0 / static_cast<double>(a.rows);
  return finish_sum(a.partials, blocks, scale, a.n_valid, a.loss, a.dtype, s);
}

template <typename T>
cudaError_t launch_typed(const JsdForwardArgs& a, cudaStream_t s) {
  constexpr int V = 16 / sizeof(T);
  const bool vec = rows_allow_packs(a.cols, sizeof(T), {a.input, a.target, a.grad_input});
  if (a.grad_input == nullptr) return vec ? launch<T, V, false>(a, s) : launch<T, 1, false>(a, s);
  return vec ? launch<T, V, true>(a, s) : launch<T, 1, true>(a, s);
}

}  // namespace

cudaError_t jsd_forward(const JsdForwardArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  return dispatch_dtype(a.dtype, [&](auto tag) { return launch_typed<decltype(tag)>(a, stream); });
}

}  // namespace liger::cuda
