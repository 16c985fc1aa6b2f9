// Sparsemax on CPU: the CUDA kernel's threshold search (common/sparsemax_search.h) per row, in
// fp32 (float64 for float64 input), y rounded once; the backward as Liger's kernel
// (sparsemax_row.h).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "../common/op_registration.h"
#include "../common/sparsemax_search.h"
#include "row_op_cpu.h"
#include "sparsemax_row.h"

namespace liger {
namespace {

// One row: z = x - max(x) into the scratch row z, the threshold search on it, y = max(z - tau, 0).
template <typename T>
void sparsemax_row(const T* x, T* y, at::opmath_type<T>* z, int64_t cols) {
  using Acc = at::opmath_type<T>;
  Acc m = -std::numeric_limits<Acc>::infinity();
  for (int64_t c = 0; c < cols; ++c) m = std::fmax(m, static_cast<Acc>(x[c]));
  for (int64_t c = 0; c < cols; ++c) z[c] = static_cast<Acc>(x[c]) - m;
  SparsemaxSearch<Acc> search;
  bool done = false;
  while (!done) {
    const Acc lo = search.lo, mid = search.mid();
    Acc sum_above = 0, count_above = 0, f_mid = 0;
    for (int64_t c = 0; c < cols; ++c) {
      if (z[c] > lo) {
        sum_above += z[c];
        count_above += 1;
      }
      f_mid += std::max(z[c] - mid, Acc(0));
    }
    done = search.update(sum_above, count_above, f_mid);
  }
  for (int64_t c = 0; c < cols; ++c) {
    const Acc d = z[c] - search.tau;
    y[c] = static_cast<T>(d > 0 ? d : Acc(0));
  }
}

at::Tensor sparsemax_forward_cpu(const at::Tensor& input) {
  return detail::cpu_row_forward("liger::sparsemax", input, [](const auto* x, auto* y, auto* z, int64_t cols) {
    sparsemax_row(x, y, z, cols);
  });
}

at::Tensor sparsemax_backward_cpu(const at::Tensor& grad_out, const at::Tensor& output) {
  return detail::cpu_row_backward("liger::sparsemax_backward", grad_out, output,
                                  [](const auto* dy, const auto* y, auto* dx, int64_t cols) {
                                    cpu::sparsemax_row_backward(dy, y, dx, cols);
                                  });
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  detail::impl_forward_backward<sparsemax_forward_cpu, sparsemax_backward_cpu>(m, "sparsemax");
}

}  // namespace liger
