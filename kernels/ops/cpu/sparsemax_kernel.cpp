// Sparsemax on CPU: the CUDA kernel's threshold search (common/sparsemax_search.h) per row, in
// fp32 (float64 for float64 input), y rounded once; the backward as Liger's kernel.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <vector>

#include "../common/op_registration.h"
#include "../common/sparsemax_search.h"
#include "row_op_cpu.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::sparsemax";

int64_t grain_for(int64_t cols) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)); }

template <typename T>
void forward_rows(const T* x, T* y, int64_t rows, int64_t cols) {
  using Acc = at::opmath_type<T>;
  at::parallel_for(0, rows, grain_for(cols), [&](int64_t b, int64_t e) {
    std::vector<Acc> z(cols);
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * cols;
      Acc m = -std::numeric_limits<Acc>::infinity();
      for (int64_t c = 0; c < cols; ++c) m = std::fmax(m, static_cast<Acc>(xr[c]));
      for (int64_t c = 0; c < cols; ++c) z[c] = static_cast<Acc>(xr[c]) - m;
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
      T* yr = y + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        const Acc d = z[c] - search.tau;
        yr[c] = static_cast<T>(d > 0 ? d : Acc(0));
      }
    }
  });
}

// Support S = {y > 0}; dx = dy - mean_S(dy) on S, 0 elsewhere. The mean is rounded to the
// gradient's dtype, as Liger's kernel does.
template <typename T>
void backward_rows(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols) {
  using Acc = at::opmath_type<T>;
  at::parallel_for(0, rows, grain_for(cols), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* yr = y + r * cols;
      const T* gr = dy + r * cols;
      Acc sum = 0, count = 0;
      for (int64_t c = 0; c < cols; ++c) {
        if (static_cast<Acc>(yr[c]) > 0) {
          sum += static_cast<Acc>(gr[c]);
          count += 1;
        }
      }
      const Acc mean = static_cast<Acc>(static_cast<T>(sum / std::max(count, Acc(1e-6))));
      T* dxr = dx + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        dxr[c] = static_cast<T>(static_cast<Acc>(yr[c]) > 0 ? static_cast<Acc>(gr[c]) - mean : Acc(0));
    }
  });
}

at::Tensor sparsemax_forward_cpu(const at::Tensor& input) {
  return detail::cpu_row_forward(kOp, input, [](const auto* x, auto* y, int64_t rows, int64_t cols) {
    forward_rows(x, y, rows, cols);
  });
}

at::Tensor sparsemax_backward_cpu(const at::Tensor& grad_out, const at::Tensor& output) {
  return detail::cpu_row_backward("liger::sparsemax_backward", grad_out, output,
                                  [](const auto* dy, const auto* y, auto* dx, int64_t rows, int64_t cols) {
                                    backward_rows(dy, y, dx, rows, cols);
                                  });
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  detail::impl_forward_backward<sparsemax_forward_cpu, sparsemax_backward_cpu>(m, "sparsemax");
}

}  // namespace liger
