// Pairwise preference losses and their derivatives (preference_pair_loss.h). Notation: ls(x) =
// log sigmoid(x), ls'(x) = sigmoid(-x); q(x) = sigmoid(x) sigmoid(-x) = sigmoid'(x).
#include "preference_pair_loss.h"

#include <cmath>

namespace liger::detail {
namespace {

at::Tensor ls(const at::Tensor& x) { return at::log_sigmoid(x); }
at::Tensor sig(const at::Tensor& x) { return at::sigmoid(x); }
at::Tensor q(const at::Tensor& x) { return sig(x) * sig(-x); }

// -(1 - e) ls(z) - e ls(-z) (CPO, SimPO) and its derivative in z.
std::pair<at::Tensor, at::Tensor> smoothed_sigmoid(const at::Tensor& z, double e) {
  return {-(1 - e) * ls(z) - e * ls(-z), -(1 - e) * sig(-z) + e * sig(z)};
}

// A loss of z = beta (c - r) - offset: d/dc = beta dz, d/dr = -beta dz.
PairTerms of_margin(const at::Tensor& loss, const at::Tensor& dz, double beta) {
  return {loss, beta * dz, -beta * dz};
}

PairTerms dpo_terms(const PreferenceOptions& o, const at::Tensor& cl, const at::Tensor& rl) {
  const double b = o.beta, e = o.label_smoothing;
  const at::Tensor z = b * (cl - rl);
  switch (o.loss_type) {
    case DpoLossType::kSigmoid:
      return of_margin(-ls(z), -sig(-z), b);
    case DpoLossType::kHinge:
      return of_margin(at::relu(1 - z), -(z < 1).to(z.scalar_type()), b);
    case DpoLossType::kExoPair: {
      const at::Tensor a = ls(z) - std::log1p(-e), c = ls(-z) - std::log(e);
      return of_margin(sig(z) * a + sig(-z) * c, q(z) * (a - c), b);
    }
    case DpoLossType::kNcaPair: {
      const at::Tensor bc = b * cl, br = b * rl;
      return {-ls(bc) - 0.5 * ls(-bc) - 0.5 * ls(-br), b * (-sig(-bc) + 0.5 * sig(bc)), 0.5 * b * sig(br)};
    }
    case DpoLossType::kRobust:
      return of_margin((-(1 - e) * ls(z) + e * ls(-z)) / (1 - 2 * e), (-(1 - e) * sig(-z) - e * sig(z)) / (1 - 2 * e),
                       b);
    case DpoLossType::kBcoPair: {
      const at::Tensor bc = b * cl, br = b * rl;
      return {-ls(bc) - ls(-br), -b * sig(-bc), b * sig(br)};
    }
    case DpoLossType::kSppoHard: {
      const at::Tensor a = cl - 0.5 / b, c = rl + 0.5 / b;
      return {a * a + c * c, 2 * a, 2 * c};
    }
    case DpoLossType::kApoZero: {
      const at::Tensor bc = b * cl, br = b * rl;
      return {1 - sig(bc) + sig(br), -b * q(bc), b * q(br)};
    }
    case DpoLossType::kApoDown: {
      const at::Tensor bc = b * cl;
      return {sig(bc) + 1 - sig(z), b * q(bc) - b * q(z), b * q(z)};
    }
    case DpoLossType::kDiscopop: {
      const double tau = o.discopop_tau;
      const at::Tensor m = sig(z / tau), dm = q(z / tau) / tau, ez = at::exp(-z);
      return of_margin(-ls(z) * (1 - m) + ez * m, -sig(-z) * (1 - m) - ez * m + (ls(z) + ez) * dm, b);
    }
  }
  TORCH_CHECK(false, o.op, ": unhandled loss_type");
}

}  // namespace

at::Tensor orpo_log_odds(const at::Tensor& c, const at::Tensor& r) {
  return (c - r) - (at::log1p(-at::exp(c)) - at::log1p(-at::exp(r)));
}

PairTerms pair_terms(const PreferenceOptions& o, const at::Tensor& c, const at::Tensor& r, const at::Tensor& rc,
                     const at::Tensor& rr) {
  switch (o.method) {
    case PreferenceMethod::kCPO: {
      auto [loss, dz] = smoothed_sigmoid(o.beta * (c - r), o.label_smoothing);
      return of_margin(loss, dz, o.beta);
    }
    case PreferenceMethod::kSimPO: {
      auto [loss, dz] = smoothed_sigmoid(o.beta * (c - r) - o.gamma, o.label_smoothing);
      return of_margin(loss, dz, o.beta);
    }
    case PreferenceMethod::kORPO: {
      // pref = -beta ls(lo); d lo / dc = 1 / (1 - exp c) = -1 / expm1(c), d lo / dr = 1 / expm1(r).
      const at::Tensor lo = orpo_log_odds(c, r);
      const at::Tensor dlo = -o.beta * sig(-lo);
      return {-o.beta * ls(lo), -dlo / at::expm1(c), dlo / at::expm1(r)};
    }
    case PreferenceMethod::kDPO:
      return dpo_terms(o, c - rc, r - rr);
  }
  TORCH_CHECK(false, o.op, ": unhandled preference method");
}

DpoLossType parse_dpo_loss_type(const std::string& name, double label_smoothing, const char* op) {
  TORCH_CHECK(name != "ipo", op, ": loss_type 'ipo' is not implemented (Liger rejects it too)");
  static const std::pair<const char*, DpoLossType> kTypes[] = {
      {"sigmoid", DpoLossType::kSigmoid},     {"hinge", DpoLossType::kHinge},        {"exo_pair", DpoLossType::kExoPair},
      {"nca_pair", DpoLossType::kNcaPair},    {"robust", DpoLossType::kRobust},      {"bco_pair", DpoLossType::kBcoPair},
      {"sppo_hard", DpoLossType::kSppoHard},  {"apo_zero", DpoLossType::kApoZero},   {"apo_down", DpoLossType::kApoDown},
      {"discopop", DpoLossType::kDiscopop}};
  for (const auto& [n, t] : kTypes) {
    if (name != n) continue;
    TORCH_CHECK(t != DpoLossType::kExoPair || (label_smoothing > 0 && label_smoothing < 1), op,
                ": loss_type 'exo_pair' needs 0 < label_smoothing < 1, got ", label_smoothing);
    TORCH_CHECK(t != DpoLossType::kRobust || (label_smoothing >= 0 && label_smoothing < 0.5), op,
                ": loss_type 'robust' needs 0 <= label_smoothing < 0.5, got ", label_smoothing);
    return t;
  }
  TORCH_CHECK(false, op, ": unknown loss_type '", name,
              "' (expected sigmoid, hinge, exo_pair, nca_pair, robust, bco_pair, sppo_hard, apo_zero, apo_down or "
              "discopop)");
}

}  // namespace liger::detail
