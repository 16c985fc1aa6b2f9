// One chunk of the fused linear JSD on CPU: the same three passes over each row as the CUDA
// kernel. Pass 1: the softmax statistics (max, then log-sum-exp) of student and teacher logits
// divided by the temperature. Pass 2: each element's JSD term and gradient g = d loss / d log_q,
// summed (the row's loss, and sum(g) for the log-softmax chain rule). Pass 3: recomputes g and
// overwrites the student logits with d loss / d logits = (g - softmax(s / T) * sum(g)) / (n T);
// skipped without compute_grad (the loss only: the logits are not written).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <limits>

#include "../divergence_checks.h"

namespace liger {
namespace {

template <typename Acc, typename T>
Acc log_sum_exp(const T* row, int64_t cols, Acc inv_temp) {
  Acc m = -std::numeric_limits<Acc>::infinity();
  for (int64_t c = 0; c < cols; ++c) m = std::max(m, static_cast<Acc>(row[c]) * inv_temp);
  Acc sum = 0;
  for (int64_t c = 0; c < cols; ++c) sum += exp_acc(static_cast<Acc>(row[c]) * inv_temp - m);
  return m + log_acc(sum);
}

template <typename T>
void chunk_rows(T* s, const T* t, const int64_t* labels, int64_t ignore_index, at::opmath_type<T>* row_loss,
                int64_t rows, int64_t cols, at::opmath_type<T> inv_temp, at::opmath_type<T> beta, JsdMode mode,
                at::opmath_type<T> inv_n, bool compute_grad) {
  using Acc = at::opmath_type<T>;
  at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* sr = s + r * cols;
      const T* tr = t + r * cols;
      if (labels != nullptr && labels[r] == ignore_index) {
        if (compute_grad) std::fill(sr, sr + cols, T(0));
        row_loss[r] = 0;
        continue;
      }
      const Acc lse_s = log_sum_exp<Acc>(sr, cols, inv_temp);
      const Acc lse_t = log_sum_exp<Acc>(tr, cols, inv_temp);
      auto term = [&](int64_t c, Acc& log_q) {
        log_q = static_cast<Acc>(sr[c]) * inv_temp - lse_s;
        return jsd_chain_term<false, Acc>(log_q, static_cast<Acc>(tr[c]) * inv_temp - lse_t, beta, mode);
      };
      double loss = 0.0, sum_g = 0.0;
      for (int64_t c = 0; c < cols; ++c) {
        Acc log_q;
        const JsdTerm<Acc> e = term(c, log_q);
        loss += e.loss;
        sum_g += e.grad;
      }
      const Acc scale = inv_n * inv_temp;
      for (int64_t c = 0; compute_grad && c < cols; ++c) {
        Acc log_q;
        const JsdTerm<Acc> e = term(c, log_q);
        sr[c] = static_cast<T>((e.grad - exp_acc(log_q) * static_cast<Acc>(sum_g)) * scale);
      }
      row_loss[r] = static_cast<Acc>(loss * inv_n);
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
