#pragma once
// Sparsemax's backward over one row on CPU (KERNELS.md section 10): the sparsemax kernel runs it
// over every row, multi-token attention over each row's unmasked prefix.
#include <ATen/OpMathType.h>

#include <algorithm>
#include <cstdint>

namespace liger::cpu {

// Support S = {y > 0}; dx = dy - mean_S(dy) on S, 0 elsewhere. The mean is rounded to the
// gradient's dtype, as Liger's kernel does. dx may be dy's memory (each element is read before it
// is written).
template <typename T>
void sparsemax_row_backward(const T* dy, const T* y, T* dx, int64_t cols) {
  using Acc = at::opmath_type<T>;
  Acc sum = 0, count = 0;
  for (int64_t c = 0; c < cols; ++c) {
    if (static_cast<Acc>(y[c]) > 0) {
      sum += static_cast<Acc>(dy[c]);
      count += 1;
    }
  }
  const Acc mean = static_cast<Acc>(static_cast<T>(sum / std::max(count, Acc(1e-6))));
  for (int64_t c = 0; c < cols; ++c)
    dx[c] = static_cast<T>(static_cast<Acc>(y[c]) > 0 ? static_cast<Acc>(dy[c]) - mean : Acc(0));
}

}  // namespace liger::cpu
