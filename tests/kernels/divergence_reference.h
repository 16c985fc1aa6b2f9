#pragma once
// float64 references of the KL and JSD losses for the kernel tests: KERNELS.md's formulas in
// plain ATen ops (autograd gives their gradients), written independently of the kernels.
#include <ATen/ATen.h>

#include <string>

namespace ligerbench::testing {

// KL(y_true || exp(y_pred)) with nn.KLDivLoss's reductions and Liger's eps clamp.
inline at::Tensor kl_reference(const at::Tensor& y_pred, const at::Tensor& y_true, const std::string& reduction,
                               bool log_target, double eps) {
  const at::Tensor l = log_target ? at::exp(y_true) * (y_true - y_pred)
                                  : y_true * (at::log(at::clamp_min(y_true, eps)) - y_pred);
  if (reduction == "none") return l;
  if (reduction == "sum") return l.sum();
  if (reduction == "mean") return l.sum() / static_cast<double>(l.numel());
  return l.sum() / static_cast<double>(l.size(0));  // batchmean
}

// Generalised JSD of log_q (student) and log_p (teacher), averaged over the rows whose label is
// not ignore_index (all rows without labels); 0 when every row is ignored.
inline at::Tensor jsd_reference(const at::Tensor& log_q, const at::Tensor& log_p, const at::Tensor& labels,
                                double beta, int64_t ignore_index) {
  const at::Tensor q = at::exp(log_q), p = at::exp(log_p);
  at::Tensor l;
  if (beta == 0.0) {
    l = p * (log_p - log_q);
  } else if (beta == 1.0) {
    l = q * (log_q - log_p);
  } else {
    const at::Tensor m = beta * p + (1 - beta) * q;
    l = beta * p * log_p + (1 - beta) * q * log_q - m * at::log(m);
  }
  at::Tensor rows = l.sum(-1);
  if (!labels.defined()) return rows.sum() / static_cast<double>(std::max<int64_t>(1, rows.size(0)));
  const at::Tensor keep = labels.ne(ignore_index).to(rows.device());
  const int64_t n = keep.sum().item<int64_t>();
  rows = at::where(keep, rows, at::zeros_like(rows));
  return n == 0 ? rows.sum() * 0.0 : rows.sum() / static_cast<double>(n);
}

// Fused linear JSD: the same JSD of the temperature-scaled log-softmaxes of both projections.
inline at::Tensor fused_linear_jsd_reference(const at::Tensor& xs, const at::Tensor& ws, const at::Tensor& xt,
                                             const at::Tensor& wt, const at::Tensor& labels, double beta,
                                             int64_t ignore_index, double temperature) {
  const at::Tensor log_q = at::log_softmax(at::mm(xs, ws.t()) / temperature, -1);
  const at::Tensor log_p = at::log_softmax(at::mm(xt, wt.t()) / temperature, -1);
  return jsd_reference(log_q, log_p, labels, beta, ignore_index);
}

// Labels (rows,) in [0, vocab) with min(ignored, rows) of them, chosen at random, set to
// ignore_index.
inline at::Tensor labels_with_ignored(int64_t rows, int64_t vocab, int64_t ignored, int64_t ignore_index) {
  at::Tensor labels = at::randint(0, vocab, {rows}, at::kLong);
  ignored = std::min(ignored, rows);
  if (ignored > 0) labels.index_fill_(0, at::randperm(rows, at::kLong).narrow(0, 0, ignored), ignore_index);
  return labels;
}

}  // namespace ligerbench::testing
