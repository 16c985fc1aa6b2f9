// One chunk of the fused linear JSD on CPU: the same three passes over each row as the CUDA
// kernel. Pass 1: the softmax statistics (max, then log-sum-exp) of student and teacher logits
// divided by the temperature. Pass 2: each element's JSD term and gradient g = d loss / d log_q,
// summed (the row's loss, and sum(g) for the log-softmax chain rule). Pass 3: recomputes g and
// overwrites the student logits with d loss / d logits = (g - softmax(s / T) * sum(g)) / (n T);
// skipped without compute_grad (the loss only: the logits are not written). The passes are
// vectorized loops (vec_math.h).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <limits>

#include "../divergence_checks.h"
#include "vec_math.h"

namespace liger {
namespace {

template <typename Acc, typename T>
LIGER_ALWAYS_INLINE Acc log_sum_exp(const T* row, int64_t cols, Acc inv_temp) {
  Acc m = -std::numeric_limits<Acc>::infinity();
  LIGER_SIMD_REDUCE(max, m)
  for (int64_t c = 0; c < cols; ++c) {
    const Acc v = cpu::load(row[c]) * inv_temp;
    m = v > m ? v : m;
  }
  Acc sum = 0;
  LIGER_SIMD_REDUCE(+, sum)
  for (int64_t c = 0; c < cols; ++c) sum += exp_acc(cpu::load(row[c]) * inv_temp - m);
  return m + log_acc(sum);
}

// One row not ignored: the three passes; returns the row's loss divided by n. The mode is a
// template flag so that each variant is one straight loop.
template <JsdMode MODE, typename T>
LIGER_ALWAYS_INLINE at::opmath_type<T> chunk_row_mode(T* sr, const T* tr, int64_t cols, at::opmath_type<T> inv_temp,
                                                      at::opmath_type<T> beta, at::opmath_type<T> inv_n,
                                                      bool compute_grad) {
  constexpr JsdMode mode = MODE;
  using Acc = at::opmath_type<T>;
  const Acc lse_s = log_sum_exp<Acc>(sr, cols, inv_temp);
  const Acc lse_t = log_sum_exp<Acc>(tr, cols, inv_temp);
  double loss = 0.0, sum_g = 0.0;
  LIGER_SIMD_REDUCE(+, loss, sum_g)
  for (int64_t c = 0; c < cols; ++c) {
    const Acc log_q = cpu::load(sr[c]) * inv_temp - lse_s;
    const JsdTerm<Acc> e = jsd_chain_term<false, Acc>(log_q, cpu::load(tr[c]) * inv_temp - lse_t, beta, mode);
    loss += e.loss;
    sum_g += e.grad;
  }
  if (compute_grad) {
    const Acc scale = inv_n * inv_temp;
    const Acc g_sum = static_cast<Acc>(sum_g);
    LIGER_SIMD
    for (int64_t c = 0; c < cols; ++c) {
      const Acc log_q = cpu::load(sr[c]) * inv_temp - lse_s;
      const JsdTerm<Acc> e = jsd_chain_term<false, Acc>(log_q, cpu::load(tr[c]) * inv_temp - lse_t, beta, mode);
      sr[c] = cpu::store<T>((e.grad - exp_acc(log_q) * g_sum) * scale);
    }
  }
  return static_cast<Acc>(loss * inv_n);
}

template <typename T>
LIGER_CPU_CLONES at::opmath_type<T> chunk_row(T* sr, const T* tr, int64_t cols, at::opmath_type<T> inv_temp,
                                              at::opmath_type<T> beta, JsdMode mode, at::opmath_type<T> inv_n,
                                              bool compute_grad) {
  switch (mode) {
    case JsdMode::kForwardKl:
      return chunk_row_mode<JsdMode::kForwardKl>(sr, tr, cols, inv_temp, beta, inv_n, compute_grad);
    case JsdMode::kReverseKl:
      return chunk_row_mode<JsdMode::kReverseKl>(sr, tr, cols, inv_temp, beta, inv_n, compute_grad);
    default: return chunk_row_mode<JsdMode::kGeneral>(sr, tr, cols, inv_temp, beta, inv_n, compute_grad);
  }
}

template <typename T>
void chunk_rows(T* s, const T* t, const int64_t* labels, int64_t ignore_index, at::opmath_type<T>* row_loss,
                int64_t rows, int64_t cols, at::opmath_type<T> inv_temp, at::opmath_type<T> beta, JsdMode mode,
                at::opmath_type<T> inv_n, bool compute_grad) {
  at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* sr = s + r * cols;
      if (labels != nullptr && labels[r] == ignore_index) {
        if (compute_grad) std::fill(sr, sr + cols, T(0));
        row_loss[r] = 0;
        continue;
      }
      row_loss[r] = chunk_row(sr, t + r * cols, cols, inv_temp, beta, mode, inv_n, compute_grad);
    }
  });
}

void fused_linear_jsd_chunk_cpu(at::Tensor& student_logits, const at::Tensor& teacher_logits,
                                const c10::optional<at::Tensor>& shift_labels, const at::Tensor& n_valid,
                                at::Tensor& row_loss, double beta, int64_t ignore_index, double temperature,
                                bool compute_grad) {
  detail::check_jsd_chunk(student_logits, teacher_logits, shift_labels, n_valid, row_loss);
  detail::check_beta(beta, "liger::fused_linear_jsd_chunk");
  TORCH_CHECK(temperature != 0.0, "liger::fused_linear_jsd_chunk: temperature must be non-zero");
  const at::Tensor t = teacher_logits.contiguous();
  const bool has_labels = shift_labels && shift_labels->defined();
  const at::Tensor labels = has_labels ? shift_labels->contiguous() : at::Tensor();
  const int64_t n = n_valid.item<int64_t>();
  const int64_t rows = student_logits.size(0), cols = student_logits.size(1);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, student_logits.scalar_type(), "fused_linear_jsd_chunk_cpu",
                                  [&] {
                                    using Acc = at::opmath_type<scalar_t>;
                                    chunk_rows<scalar_t>(student_logits.data_ptr<scalar_t>(), t.data_ptr<scalar_t>(),
                                                         has_labels ? labels.data_ptr<int64_t>() : nullptr,
                                                         ignore_index, row_loss.data_ptr<Acc>(), rows, cols,
                                                         static_cast<Acc>(1.0 / temperature), static_cast<Acc>(beta),
                                                         jsd_mode_of(beta),
                                                         n > 0 ? Acc(1) / static_cast<Acc>(n) : Acc(0), compute_grad);
                                  });
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) { m.impl("fused_linear_jsd_chunk", TORCH_FN(fused_linear_jsd_chunk_cpu)); }

}  // namespace liger
