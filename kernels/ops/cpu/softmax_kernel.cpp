// Softmax on CPU: the CUDA kernel's algorithm per row (max, exp and sum in fp32 or, for float64,
// in float64; y rounded once): the rows of softmax_row.h.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../common/op_registration.h"
#include "row_op_cpu.h"
#include "softmax_row.h"

namespace liger {
namespace {

at::Tensor softmax_forward_cpu(const at::Tensor& input) {
  // The exponentials are kept in the scratch row for the last pass.
  return detail::cpu_row_forward("liger::softmax", input, [](const auto* x, auto* y, auto* ex, int64_t cols) {
    cpu::softmax_row(x, y, ex, cols);
  });
}

at::Tensor softmax_backward_cpu(const at::Tensor& grad_out, const at::Tensor& output) {
  return detail::cpu_row_backward("liger::softmax_backward", grad_out, output,
                                  [](const auto* dy, const auto* y, auto* dx, int64_t cols) {
                                    cpu::softmax_row_backward(dy, y, dx, cols);
                                  });
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  detail::impl_forward_backward<softmax_forward_cpu, softmax_backward_cpu>(m, "softmax");
}

}  // namespace liger
