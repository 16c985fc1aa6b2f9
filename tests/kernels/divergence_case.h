#pragma once
// The float64 references of the kl_div, jsd and fused_linear_jsd specs (harness/specs/) with the
// kernels' own arguments, and the tests' shift_labels.
#include <ATen/ATen.h>

#include <string>

#include "spec_reference.h"

namespace ligerbench::testing {

// KL(y_true || exp(y_pred)) with nn.KLDivLoss's reductions and Liger's eps clamp.
inline at::Tensor kl_reference(const at::Tensor& y_pred, const at::Tensor& y_true, const std::string& reduction,
                               bool log_target, double eps) {
  return spec_reference("kl_div", {{"y_pred", y_pred}, {"y_true", y_true}},
                        {{"reduction", reduction},
                         {"log_target", log_target ? "true" : "false"},
                         {"eps", param_value(eps)}})[0];
}

// Generalised JSD of log_q (student) and log_p (teacher), averaged over the rows whose label is
// not ignore_index (all rows without labels); 0 when every row is ignored.
inline at::Tensor jsd_reference(const at::Tensor& log_q, const at::Tensor& log_p, const at::Tensor& labels,
                                double beta, int64_t ignore_index) {
  return spec_reference("jsd", {{"input", log_q}, {"target", log_p}, {"shift_labels", labels}},
                        {{"beta", param_value(beta)}, {"ignore_index", std::to_string(ignore_index)}})[0];
}

// Fused linear JSD: the same JSD of the temperature-scaled log-softmaxes of both projections.
inline at::Tensor fused_linear_jsd_reference(const at::Tensor& xs, const at::Tensor& ws, const at::Tensor& xt,
                                             const at::Tensor& wt, const at::Tensor& labels, double beta,
                                             int64_t ignore_index, double temperature) {
  return spec_reference("fused_linear_jsd",
                        {{"student_input", xs},
                         {"student_weight", ws},
                         {"teacher_input", xt},
                         {"teacher_weight", wt},
                         {"shift_labels", labels}},
                        {{"beta", param_value(beta)},
                         {"ignore_index", std::to_string(ignore_index)},
                         {"temperature", param_value(temperature)}})[0];
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
