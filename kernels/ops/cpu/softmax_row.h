#pragma once
// One softmax row and its backward on CPU, vectorized (vec_math.h): the softmax kernel runs them
// over every row, multi-token attention over each row's unmasked prefix. Internal linkage (an
// unnamed namespace) so that each including file gets its own target_clones resolver.
#include <ATen/OpMathType.h>

#include <cstdint>
#include <limits>

#include "vec_math.h"

namespace liger::cpu {
namespace {

// y = softmax(x) over cols entries: max, exp and sum, scale, in fp32 (float64 for float64). With
// ex (cols entries) the exponentials are kept there for the last pass; without it they are
// recomputed.
template <typename T>
LIGER_CPU_CLONES void softmax_row(const T* x, T* y, at::opmath_type<T>* ex, int64_t cols) {
  using Acc = at::opmath_type<T>;
  // Skips NaN like the CUDA kernel's fmaxf; a NaN still reaches the sum through exp.
  Acc m = -std::numeric_limits<Acc>::infinity();
  LIGER_SIMD_REDUCE(max, m)
  for (int64_t c = 0; c < cols; ++c) {
    const Acc v = load(x[c]);
    m = v > m ? v : m;
  }
  Acc s = 0;
  if (ex) {
    LIGER_SIMD_REDUCE(+, s)
    for (int64_t c = 0; c < cols; ++c) {
      const Acc e = exp_of(load(x[c]) - m);  // all -inf: (-inf) - (-inf) is NaN, as in torch
      ex[c] = e;
      s += e;
    }
  } else {
    LIGER_SIMD_REDUCE(+, s)
    for (int64_t c = 0; c < cols; ++c) s += exp_of(load(x[c]) - m);
  }
  const Acc inv = Acc(1) / s;
  if (ex) {
    LIGER_SIMD
    for (int64_t c = 0; c < cols; ++c) y[c] = store<T>(ex[c] * inv);
  } else {
    LIGER_SIMD
    for (int64_t c = 0; c < cols; ++c) y[c] = store<T>(exp_of(load(x[c]) - m) * inv);
  }
}

// dx = y (dy - sum(dy y)); dx may be dy's memory (each element is read before it is written).
template <typename T>
LIGER_CPU_CLONES void softmax_row_backward(const T* dy, const T* y, T* dx, int64_t cols) {
  using Acc = at::opmath_type<T>;
  Acc dot = 0;
  LIGER_SIMD_REDUCE(+, dot)
  for (int64_t c = 0; c < cols; ++c) dot += load(y[c]) * load(dy[c]);
  LIGER_SIMD
  for (int64_t c = 0; c < cols; ++c) dx[c] = store<T>(load(y[c]) * (load(dy[c]) - dot));
}

}  // namespace
}  // namespace liger::cpu
