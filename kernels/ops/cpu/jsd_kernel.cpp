// JSD forward on CPU: the same one-pass algorithm as the CUDA kernel. Each row is read once;
// every element's loss term and gradient come from divergence_math.h; the gradient (divided by
// n, the number of rows not ignored) is written as it goes, unless dx is null (the loss only);
// the loss sums groups of elements
// in the accumulation type and the groups in double, per row, and the rows in order; the loops
// are vectorized (vec_math.h).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../divergence_checks.h"
#include "vec_math.h"

namespace liger {
namespace {

constexpr int64_t kGroup = 32;  // elements summed in the accumulation type before the double

// One row's loss (groups of kGroup in Acc, a vectorized loop; the groups in double) and, unless
// dx is null, its gradient divided by n. The mode is a template flag so that each variant is one
// straight loop.
template <JsdMode MODE, typename T>
LIGER_ALWAYS_INLINE double jsd_row_groups(const T* x, const T* y, T* dx, int64_t cols, at::opmath_type<T> beta,
                                          at::opmath_type<T> inv_n) {
  using Acc = at::opmath_type<T>;
  double acc = 0.0;
  for (int64_t g = 0; g < cols; g += kGroup) {
    Acc part = 0;
    const int64_t g_end = std::min(cols, g + kGroup);
    if (dx != nullptr) {
      LIGER_SIMD_REDUCE(+, part)
      for (int64_t c = g; c < g_end; ++c) {
        const JsdTerm<Acc> t = jsd_term<false, Acc>(cpu::load(x[c]), cpu::load(y[c]), beta, MODE);
        part += t.loss;
        dx[c] = cpu::store<T>(t.grad * inv_n);
      }
    } else {
      LIGER_SIMD_REDUCE(+, part)
      for (int64_t c = g; c < g_end; ++c) part += jsd_term<false, Acc>(cpu::load(x[c]), cpu::load(y[c]), beta, MODE).loss;
    }
    acc += static_cast<double>(part);
  }
  return acc;
}

template <typename T>
LIGER_CPU_CLONES double jsd_row(const T* x, const T* y, T* dx, int64_t cols, at::opmath_type<T> beta, JsdMode mode,
                                at::opmath_type<T> inv_n) {
  switch (mode) {
    case JsdMode::kForwardKl: return jsd_row_groups<JsdMode::kForwardKl>(x, y, dx, cols, beta, inv_n);
    case JsdMode::kReverseKl: return jsd_row_groups<JsdMode::kReverseKl>(x, y, dx, cols, beta, inv_n);
    default: return jsd_row_groups<JsdMode::kGeneral>(x, y, dx, cols, beta, inv_n);
  }
}

template <typename T>
double jsd_rows(const T* x, const T* y, T* dx, const int64_t* labels, int64_t ignore_index, int64_t rows,
                int64_t cols, at::opmath_type<T> beta, JsdMode mode, at::opmath_type<T> inv_n) {
  std::vector<double> row_sums(rows, 0.0);
  at::parallel_for(0, rows, std::max<int64_t>(1, 65536 / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* dxr = dx != nullptr ? dx + r * cols : nullptr;
      if (labels != nullptr && labels[r] == ignore_index) {
        if (dxr != nullptr) std::fill(dxr, dxr + cols, T(0));
        continue;
      }
      row_sums[r] = jsd_row(x + r * cols, y + r * cols, dxr, cols, beta, mode, inv_n);
    }
  });
  double total = 0.0;
  for (double s : row_sums) total += s;
  return total;
}

std::tuple<at::Tensor, at::Tensor> jsd_forward_cpu(const at::Tensor& input, const at::Tensor& target,
                                                   const c10::optional<at::Tensor>& shift_labels, double beta,
                                                   int64_t ignore_index, bool compute_grad) {
  detail::check_jsd_inputs(input, target, shift_labels, beta);
  const at::Tensor x = input.contiguous(), y = target.contiguous();
  const bool has_labels = shift_labels && shift_labels->defined();
  const at::Tensor labels = has_labels ? shift_labels->contiguous() : at::Tensor();
  const int64_t rows = x.size(0), cols = x.size(1);
  const int64_t n = has_labels ? labels.ne(ignore_index).sum().item<int64_t>() : rows;
  at::Tensor dx = compute_grad ? at::empty_like(x) : at::Tensor();
  double total = 0.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "jsd_forward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    // Every row ignored: nothing to divide by; the loss and the gradient are 0.
    const Acc inv_n = n > 0 ? Acc(1) / static_cast<Acc>(n) : Acc(0);
    total = jsd_rows<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                               compute_grad ? dx.data_ptr<scalar_t>() : nullptr,
                               has_labels ? labels.data_ptr<int64_t>() : nullptr, ignore_index, rows, cols,
                               static_cast<Acc>(beta), jsd_mode_of(beta), inv_n);
  });
  const double loss = n > 0 ? total / static_cast<double>(n) : 0.0;
  return {at::scalar_tensor(loss, x.options()), dx};
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) { m.impl("jsd_forward", TORCH_FN(jsd_forward_cpu)); }

}  // namespace liger
