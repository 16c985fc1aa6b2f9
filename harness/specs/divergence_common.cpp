#include "divergence_common.h"

#include <cmath>

#include "specs.h"

namespace ligerbench::specs {

std::string validate_integer(const std::string& v) {
  try {
    std::size_t used = 0;
    (void)std::stoll(v, &used);
    if (used != v.size()) return "not an integer";
  } catch (const std::exception&) {
    return "not an integer";
  }
  return "";
}

std::string validate_unit_interval(const std::string& v) {
  if (auto why = validate_number(v); !why.empty()) return why;
  const double d = std::stod(v);
  return d >= 0.0 && d <= 1.0 ? "" : "must be in [0, 1]";
}

std::string validate_fraction_or_none(const std::string& v) {
  return v == "none" ? "" : validate_unit_interval(v);
}

at::Tensor make_shift_labels(const CaseConfig& c, int64_t rows, int64_t vocab) {
  if (c.param("ignore_fraction") == "none") return at::Tensor();
  const auto opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor labels = at::randint(0, std::max<int64_t>(vocab, 1), {rows}, opts);
  const auto ignored = static_cast<int64_t>(std::llround(c.param_double("ignore_fraction") * rows));
  const int64_t ignore_index = std::stoll(c.param("ignore_index"));
  if (ignored > 0) labels.index_fill_(0, at::randperm(rows, opts).narrow(0, 0, ignored), ignore_index);
  return labels.to(c.device);
}

at::Tensor torch_jsd(const at::Tensor& log_q_in, const at::Tensor& log_p_in, const at::Tensor& labels, double beta,
                     int64_t ignore_index, at::ScalarType out_dtype) {
  const at::Tensor log_q = log_q_in.to(at::kFloat), log_p = log_p_in.to(at::kFloat);
  auto kl = [](const at::Tensor& input, const at::Tensor& target) {
    return at::kl_div(input, target, at::Reduction::None, /*log_target=*/true);
  };
  at::Tensor loss;
  if (beta == 0.0) {
    loss = kl(log_q, log_p).sum(-1);
  } else if (beta == 1.0) {
    loss = kl(log_p, log_q).sum(-1);
  } else {
    const at::Tensor log_m = at::log(at::lerp(at::exp(log_q), at::exp(log_p), beta));
    loss = beta * kl(log_m, log_p).sum(-1) + (1 - beta) * kl(log_m, log_q).sum(-1);
  }
  if (labels.defined()) {
    const at::Tensor keep = labels.ne(ignore_index);
    loss = at::where(keep, loss, at::zeros_like(loss));
    const int64_t n = keep.sum().item<int64_t>();
    // Upstream returns a plain 0.0 here; a zero with a graph keeps the backward timeable.
    loss = n == 0 ? loss.sum() * 0.0 : (loss / static_cast<double>(n)).sum();
  } else {
    loss = (loss / static_cast<double>(log_q.size(0))).sum();
  }
  return loss.to(out_dtype);
}

at::Tensor jsd_rows(const at::Tensor& log_q, const at::Tensor& log_p, double beta) {
  const at::Tensor q = at::exp(log_q), p = at::exp(log_p);
  if (beta == 0.0) return (p * (log_p - log_q)).sum(-1);
  if (beta == 1.0) return (q * (log_q - log_p)).sum(-1);
  const at::Tensor m = beta * p + (1 - beta) * q;
  return (beta * p * log_p + (1 - beta) * q * log_q - m * at::log(m)).sum(-1);
}

at::Tensor attach_gradients(double value, const std::vector<at::Tensor>& wrt, const std::vector<at::Tensor>& grads) {
  at::Tensor out = at::scalar_tensor(value, wrt.at(0).options().requires_grad(false));
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    const at::Tensor d = at::dot(grads.at(i).reshape(-1), wrt[i].reshape(-1));
    out = out + (d - d.detach());
  }
  return out;
}

int64_t reference_chunk_rows(int64_t row_elements) {
  return std::max<int64_t>(1, (int64_t{32} << 20) / std::max<int64_t>(row_elements, 1));
}

}  // namespace ligerbench::specs
