// Softmax on CPU: the CUDA kernel's algorithm per row (max, exp and sum in fp32 or, for float64,
// in float64; y rounded once): the rows of softmax_row.h.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../common/op_registration.h"
#include "row_op_cpu.h"
#include "softmax_row.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::softmax";

int64_t grain_for(int64_t cols) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)); }

template <typename T>
void forward_rows(const T* x, T* y, int64_t rows, int64_t cols) {
  at::parallel_for(0, rows, grain_for(cols), [&](int64_t b, int64_t e) {
    std::vector<at::opmath_type<T>> ex(cols);
    for (int64_t r = b; r < e; ++r) cpu::softmax_row(x + r * cols, y + r * cols, ex.data(), cols);
  });
}

template <typename T>
void backward_rows(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols) {
  at::parallel_for(0, rows, grain_for(cols), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) cpu::softmax_row_backward(dy + r * cols, y + r * cols, dx + r * cols, cols);
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
  detail::impl_forward_backward<softmax_forward_cpu, softmax_backward_cpu>(m, "softmax");
}

}  // namespace liger
