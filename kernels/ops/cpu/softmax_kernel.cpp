// Softmax on CPU: the CUDA kernel's algorithm per row (max, exp and sum in fp32 or, for float64,
// in float64; y rounded once).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <vector>

#include "row_op_cpu.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::softmax";

int64_t grain_for(int64_t cols) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)); }

template <typename T>
void forward_rows(const T* x, T* y, int64_t rows, int64_t cols) {
  using Acc = at::opmath_type<T>;
  at::parallel_for(0, rows, grain_for(cols), [&](int64_t b, int64_t e) {
    std::vector<Acc> ex(cols);
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * cols;
      // fmax skips NaN like the CUDA kernel's fmaxf; a NaN still reaches the sum through exp.
      Acc m = -std::numeric_limits<Acc>::infinity();
      for (int64_t c = 0; c < cols; ++c) m = std::fmax(m, static_cast<Acc>(xr[c]));
      Acc s = 0;
      for (int64_t c = 0; c < cols; ++c) {
        ex[c] = std::exp(static_cast<Acc>(xr[c]) - m);  // all -inf: (-inf) - (-inf) is NaN, as in torch
        s += ex[c];
      }
      const Acc inv = Acc(1) / s;
      T* yr = y + r * cols;
      for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<T>(ex[c] * inv);
    }
  });
}

template <typename T>
void backward_rows(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols) {
  using Acc = at::opmath_type<T>;
  at::parallel_for(0, rows, grain_for(cols), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* yr = y + r * cols;
      const T* gr = dy + r * cols;
      Acc dot = 0;
      for (int64_t c = 0; c < cols; ++c) dot += static_cast<Acc>(yr[c]) * static_cast<Acc>(gr[c]);
      T* dxr = dx + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        dxr[c] = static_cast<T>(static_cast<Acc>(yr[c]) * (static_cast<Acc>(gr[c]) - dot));
    }
  });
}

at::Tensor softmax_forward_cpu(const at::Tensor& input) {
  return detail::cpu_row_forward(kOp, input, [](const auto* x, auto* y, int64_t rows, int64_t cols) {
    forward_rows(x, y, rows, cols);
  });
}

at::Tensor softmax_backward_cpu(const at::Tensor& grad_out, const at::Tensor& output) {
  return detail::cpu_row_backward("liger::softmax_backward", grad_out, output,
                                  [](const auto* dy, const auto* y, auto* dx, int64_t rows, int64_t cols) {
                                    backward_rows(dy, y, dx, rows, cols);
                                  });
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  m.impl("softmax_forward", TORCH_FN(softmax_forward_cpu));
  m.impl("softmax_backward", TORCH_FN(softmax_backward_cpu));
}

}  // namespace liger
