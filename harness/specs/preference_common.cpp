#include "preference_common.h"

#include <c10/core/GradMode.h>

#include <cmath>
#include <string>
#include <utility>

#include "divergence_common.h"
#include "ligerbench/tolerance.h"
#include "specs.h"

namespace ligerbench::specs {
namespace {

const std::vector<std::string> kBool = {"true", "false"};

bool is_dpo(PreferenceKind k) { return k == PreferenceKind::kDPO; }

std::vector<ParamSpec> param_specs(PreferenceKind k) {
  std::vector<ParamSpec> p = {
      {"ignore_index", "-100", {}, validate_integer},
      // Fraction of target positions set to ignore_index at random (besides the tail padding).
      {"ignore_fraction", "0.0", {}, validate_unit_interval},
      // Each sequence keeps a random length in [T/2, T] and is padded with ignore_index after it.
      {"padding", "true", kBool, nullptr},
      {"beta", "0.1", {}, validate_number},
      {"bias", is_dpo(k) ? "true" : "false", kBool, nullptr},
      // Whether the policy's hidden states require grad (Liger's DPO benchmark: false, dW/db only).
      {"input_grad", is_dpo(k) ? "false" : "true", kBool, nullptr},
      {"compute_nll_loss", is_dpo(k) ? "false" : "true", kBool, nullptr},
      {"chunk_size", "1", {}, validate_positive},
  };
  if (k != PreferenceKind::kORPO) {
    p.push_back({"alpha", "1.0", {}, validate_number});
    p.push_back({"label_smoothing", "0.0", {}, validate_unit_interval});
  }
  if (k == PreferenceKind::kCPO || k == PreferenceKind::kDPO) p.push_back({"average_log_prob", "false", kBool, nullptr});
  if (k == PreferenceKind::kSimPO) p.push_back({"gamma", "0.5", {}, validate_number});
  if (k == PreferenceKind::kORPO) p.push_back({"nll_target", "false", kBool, nullptr});
  if (is_dpo(k)) {
    p.push_back({"use_ref_model", "true", kBool, nullptr});
    p.push_back({"loss_type",
                 "sigmoid",
                 {"sigmoid", "hinge", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "apo_zero", "apo_down",
                  "discopop"},
                 nullptr});
    p.push_back({"discopop_tau", "0.05", {}, validate_positive});
  }
  return p;
}

bool averaged(const CaseConfig& c, PreferenceKind k) {
  if (k == PreferenceKind::kORPO || k == PreferenceKind::kSimPO) return true;
  return c.param_bool("average_log_prob");
}

at::Tensor make_targets(const CaseConfig& c, int64_t batch, int64_t seq_len, int64_t vocab) {
  const auto opts = at::TensorOptions().device(c.device);
  const int64_t ignore = preference_ignore_index(c);
  at::Tensor t = at::randint(0, vocab, {batch, seq_len}, opts.dtype(at::kLong));
  if (c.param_bool("padding")) {
    const at::Tensor len = at::randint((seq_len + 1) / 2, seq_len + 1, {batch, 1}, opts.dtype(at::kLong));
    t = at::where(at::arange(seq_len, opts.dtype(at::kLong)).unsqueeze(0) >= len, at::full_like(t, ignore), t);
  }
  if (const double f = c.param_double("ignore_fraction"); f > 0)
    t = at::where(at::rand({batch, seq_len}, opts) < f, at::full_like(t, ignore), t);
  return t;
}

// nn.Linear's initialisation (uniform +-1/sqrt(H)) for the lm_head; randn hidden states.
KernelInputs make_inputs(const CaseConfig& c, PreferenceKind k) {
  const int64_t batch = c.axis("B"), seq_len = c.axis("T"), h = c.axis("H"), v = c.axis("V");
  const auto opts = at::TensorOptions().device(c.device);
  const double bound = 1.0 / std::sqrt(static_cast<double>(h));
  auto linear = [&](std::vector<int64_t> shape) { return ((2 * at::rand(shape, opts) - 1) * bound).to(c.dtype); };
  KernelInputs in;
  const bool bias = c.param_bool("bias");
  add_input(in, "input", at::randn({batch, seq_len, h}, opts).to(c.dtype).requires_grad_(c.param_bool("input_grad")));
  add_input(in, "weight", linear({v, h}).requires_grad_(true));
  add_input(in, "target", make_targets(c, batch, seq_len, v));
  if (bias) add_input(in, "bias", linear({v}).requires_grad_(true));
  if (is_dpo(k) && c.param_bool("use_ref_model")) {
    add_input(in, "ref_input", at::randn({batch, seq_len, h}, opts).to(c.dtype));
    add_input(in, "ref_weight", linear({v, h}));
    if (bias) add_input(in, "ref_bias", linear({v}));
  }
  if (k == PreferenceKind::kORPO && c.param_bool("nll_target")) add_input(in, "nll_target", make_targets(c, batch, seq_len, v));
  return in;
}

struct SeqLogps {
  at::Tensor logits, logp, chosen, rejected;
};

SeqLogps seq_logps(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const at::Tensor& y, int64_t ignore,
                   bool average, at::ScalarType compute) {
  SeqLogps s;
  s.logits = linear_fp32_accumulated(x, w, optional_tensor(b));
  s.logp = at::log_softmax(s.logits.to(compute), -1);
  const at::Tensor mask = y != ignore;
  const at::Tensor labels = at::where(mask, y, at::zeros_like(y));
  const at::Tensor per_token = s.logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1);
  at::Tensor seq = (per_token * mask).sum(-1);
  if (average) seq = seq / mask.sum(-1);
  const int64_t half = x.size(0) / 2;
  s.chosen = seq.narrow(0, 0, half);
  s.rejected = seq.narrow(0, half, half);
  return s;
}

at::Tensor ls(const at::Tensor& x) { return at::log_sigmoid(x); }

// The per-pair DPO loss as TRL writes each loss_type.
at::Tensor dpo_losses(const std::string& type, const at::Tensor& cl, const at::Tensor& rl, double beta, double e,
                      double tau) {
  const at::Tensor logits = cl - rl;
  const at::Tensor z = beta * logits;
  if (type == "sigmoid") return -ls(z);
  if (type == "hinge") return at::relu(1 - z);
  if (type == "exo_pair")
    return at::sigmoid(z) * (ls(z) - std::log(1 - e)) + at::sigmoid(-z) * (ls(-z) - std::log(e));
  if (type == "nca_pair") return -ls(beta * cl) - 0.5 * ls(-beta * cl) - 0.5 * ls(-beta * rl);
  if (type == "robust") return (-(1 - e) * ls(z) + e * ls(-z)) / (1 - 2 * e);
  if (type == "bco_pair") return -ls(beta * cl) - ls(-beta * rl);
  if (type == "sppo_hard") return at::pow(cl - 1 / (2 * beta), 2) + at::pow(rl + 1 / (2 * beta), 2);
  if (type == "apo_zero") return 1 - at::sigmoid(beta * cl) + at::sigmoid(beta * rl);
  if (type == "apo_down") return at::sigmoid(beta * cl) + 1 - at::sigmoid(z);
  TORCH_CHECK(type == "discopop", "fused_linear_dpo spec: unknown loss_type ", type);
  const at::Tensor m = at::sigmoid(z / tau);
  return -ls(z) * (1 - m) + at::exp(-z) * m;
}

// Minimum traffic and arithmetic: the policy's three GEMMs (logits, dX, dW: 2 B T H V each, dX
// only when the input requires grad) and the reference model's logits GEMM (DPO); X and W read,
// dX and dW written.
Cost cost(const CaseConfig& c, Mode m, PreferenceKind k) {
  const double bt = c.axis("B") * c.axis("T"), h = c.axis("H"), v = c.axis("V");
  const double es = at::elementSize(c.dtype);
  const bool ref = is_dpo(k) && c.param_bool("use_ref_model");
  const bool dx = c.param_bool("input_grad");
  const double gemm = 2 * bt * h * v;
  const Cost fwd{(bt * h + v * h) * es * (ref ? 2 : 1) + 8 * bt, gemm * (ref ? 2 : 1)};
  const Cost bwd{((dx ? 2 : 1) * bt * h + 2 * v * h) * es, gemm * (dx ? 2 : 1)};
  switch (m) {
    case Mode::kForward:
    case Mode::kInference:  // the forward's GEMMs and loss, no gradient either way
      return fwd;
    case Mode::kBackward:
      return bwd;
    default:
      return {fwd.bytes + bwd.bytes, fwd.flops + bwd.flops};
  }
}

}  // namespace

int64_t preference_ignore_index(const CaseConfig& c) { return static_cast<int64_t>(std::stoll(c.param("ignore_index"))); }

PreferenceInputs unpack_preference(const KernelInputs& in) {
  PreferenceInputs p;
  for (std::size_t i = 0; i < in.tensors.size(); ++i) {
    const std::string& n = in.names[i];
    at::Tensor& slot = n == "input"        ? p.input
                       : n == "weight"     ? p.weight
                       : n == "target"     ? p.target
                       : n == "bias"       ? p.bias
                       : n == "ref_input"  ? p.ref_input
                       : n == "ref_weight" ? p.ref_weight
                       : n == "ref_bias"   ? p.ref_bias
                                           : p.nll_target;
    slot = in.tensors[i];
  }
  return p;
}

std::vector<at::Tensor> preference_composition(const KernelInputs& in, const CaseConfig& c, PreferenceKind k,
                                               at::ScalarType compute) {
  const PreferenceInputs p = unpack_preference(in);
  const int64_t ignore = preference_ignore_index(c);
  const int64_t batch = p.input.size(0), seq_len = p.input.size(1), vocab = p.weight.size(0), half = batch / 2;
  const double beta = c.param_double("beta");
  const bool avg = averaged(c, k);
  const SeqLogps policy = seq_logps(p.input, p.weight, p.bias, p.target, ignore, avg, compute);
  const at::Tensor &logp = policy.logp, &chosen = policy.chosen, &rejected = policy.rejected;

  at::Tensor nll = at::zeros({}, logp.options());
  if (c.param_bool("compute_nll_loss")) {  // F.nll_loss(..., reduction="sum", ignore_index) / valid tokens
    const at::Tensor yn = (p.nll_target.defined() ? p.nll_target : p.target).narrow(0, 0, half);
    const at::Tensor mn = yn != ignore;
    const at::Tensor lp = logp.narrow(0, 0, half).gather(-1, at::where(mn, yn, at::zeros_like(yn)).unsqueeze(-1)).squeeze(-1);
    nll = -(lp * mn).sum() / mn.sum();
  }
  const double alpha = k == PreferenceKind::kORPO ? 1.0 : c.param_double("alpha");
  const double e = k == PreferenceKind::kORPO ? 0.0 : c.param_double("label_smoothing");
  at::Tensor pref, chosen_rewards = beta * chosen, rejected_rewards = beta * rejected;
  std::vector<at::Tensor> extras;
  switch (k) {
    case PreferenceKind::kCPO:
    case PreferenceKind::kSimPO: {
      const at::Tensor z = beta * (chosen - rejected) - (k == PreferenceKind::kSimPO ? c.param_double("gamma") : 0.0);
      pref = (-(1 - e) * ls(z) - e * ls(-z)).sum() / half;
      break;
    }
    case PreferenceKind::kORPO: {
      const at::Tensor lo = (chosen - rejected) - (at::log1p(-at::exp(chosen)) - at::log1p(-at::exp(rejected)));
      pref = -beta * ls(lo).sum() / half;
      extras = {(ls(lo).sum() / half).detach(), (lo.sum() / half).detach()};
      break;
    }
    case PreferenceKind::kDPO: {
      at::Tensor rc = at::zeros_like(chosen), rr = at::zeros_like(rejected);
      if (c.param_bool("use_ref_model")) {
        c10::NoGradGuard no_grad;
        const SeqLogps r = seq_logps(p.ref_input, p.ref_weight, p.ref_bias, p.target, ignore, avg, compute);
        rc = r.chosen;
        rr = r.rejected;
      }
      const at::Tensor cl = chosen - rc, rl = rejected - rr;
      pref = dpo_losses(c.param("loss_type"), cl, rl, beta, e, c.param_double("discopop_tau")).sum() / half;
      chosen_rewards = beta * cl;
      rejected_rewards = beta * rl;
      break;
    }
  }
  const double n_logits = static_cast<double>(half * seq_len * vocab);
  const at::Tensor l = policy.logits.to(compute);
  std::vector<at::Tensor> out = {alpha * nll + pref,
                                 chosen.detach(),
                                 rejected.detach(),
                                 (l.narrow(0, 0, half).sum() / n_logits).detach(),
                                 (l.narrow(0, half, half).sum() / n_logits).detach(),
                                 nll.detach(),
                                 chosen_rewards.detach(),
                                 rejected_rewards.detach()};
  out.insert(out.end(), extras.begin(), extras.end());
  return out;
}

KernelSpec preference_spec(PreferenceKind k, std::string name, std::string description, const std::string& forward_op) {
  KernelSpec s = named_spec(std::move(name), "alignment", std::move(description),
                            {forward_op, "liger::rescale_stored_grads_"});
  s.axes = {{"B", 2, "sequences: chosen half then rejected half (even)"},
            {"T", 1024, "tokens per sequence"},
            {"H", 4096, "hidden size"},
            {"V", 128256, "vocabulary size"}};
  s.params = param_specs(k);
  s.dtypes = {"fp32", "fp16", "bf16"};
  s.default_dtype = "bf16";
  s.modes = {Mode::kForward, Mode::kBackward, Mode::kFull, Mode::kInference};
  s.make_inputs = [k](const CaseConfig& c) {
    TORCH_CHECK(c.axis("B") >= 2 && c.axis("B") % 2 == 0, "axis B must be even and at least 2 (chosen + rejected), got ",
                c.axis("B"));
    return make_inputs(c, k);
  };
  s.baseline = [k](const KernelInputs& in, const CaseConfig& c) {
    return preference_composition(in, c, k, at::kFloat);
  };
  s.reference = [k](const KernelInputs& in, const CaseConfig& c) {
    return preference_composition(in, c, k, at::kDouble);
  };
  s.cost = [k](const CaseConfig& c, Mode m) { return cost(c, m, k); };
  // chosen_logits_mean and rejected_logits_mean are means of N = B/2 T V logits of both signs: the
  // reference mean lands near zero by cancellation (|mean| ~ rms / sqrt(N), and at times far less:
  // 9e-6 instead of 0.017 in the conformance case), and so does the error of the computed mean,
  // so their relative error measures only how close to zero the reference fell. Hence an absolute
  // floor, in units of the dtype's unit roundoff u, for logits of unit scale:
  // - bf16/fp16 inputs: each logit is rounded to the input dtype, error ~ u rms / sqrt(3 N) in the
  //   mean (seen: bf16 3.9e-5, fp16 6.7e-6 at N = 2250); floor u / 16 (bf16 2.4e-4, fp16 3.1e-5),
  //   over four standard deviations at N >= 1000 (every test and conformance shape);
  // - fp32 inputs: no rounding to 16 bits, only the fp32 GEMM's and sum's (seen: 2e-9 at N = 1206,
  //   baseline and liger alike); floor u / 4 (1.5e-8), below the rel_l2 allowance of every other
  //   output and gradient, so fp32 still judges them by the table. fp64: no floor.
  for (const auto [dtype, floor] : {std::pair{at::kBFloat16, 0x1p-8 / 16}, std::pair{at::kHalf, 0x1p-11 / 16},
                                    std::pair{at::kFloat, 0x1p-24 / 4}}) {
    Tolerance t = tolerance_for(dtype);
    t.abs_floor = floor;
    s.tolerances[dtype_name(dtype)] = t;
  }
  // Two pairs in two chunks, odd T (padding makes the halves' lengths differ), odd V.
  s.small_axes = {{"B", 4}, {"T", 9}, {"H", 24}, {"V", 67}};
  s.backward_note = kRescaleOnceBackward;
  // The baseline's (B, T, V) logits in the input dtype, their fp32 log-softmax and its gradient,
  // the logits' gradient, plus the inputs, the weight gradient (and the reference model's logits).
  s.memory_estimate = [k](const CaseConfig& c) {
    const double bt = c.axis("B") * c.axis("T"), h = c.axis("H"), v = c.axis("V");
    const double es = at::elementSize(c.dtype);
    const bool ref = is_dpo(k) && c.param_bool("use_ref_model");
    return bt * v * (2 * es + 8) * (ref ? 1.5 : 1.0) + (ref ? 5.0 : 3.0) * (bt * h + v * h) * es;
  };
  return s;
}

}  // namespace ligerbench::specs
