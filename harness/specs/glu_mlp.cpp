#include "glu_mlp.h"

#include "specs.h"

#include <cmath>

namespace ligerbench::specs {
namespace {

bool mlp_scope(const CaseConfig& c) { return c.param("scope") == "mlp"; }

KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t T = c.axis("T"), H = c.axis("H"), I = c.axis("I");
  const auto opts = at::TensorOptions().device(c.device).dtype(c.dtype);
  KernelInputs in;
  auto add = [&](const char* name, at::Tensor t) {
    in.tensors.push_back(t.requires_grad_(true));
    in.names.push_back(name);
  };
  if (mlp_scope(c)) {
    // Linear weights with nn.Linear's scale (std ~ 1/sqrt(fan_in)) so every activation is O(1).
    add("input", at::randn({1, T, H}, opts));
    add("gate_proj.weight", (at::randn({I, H}, opts.dtype(at::kFloat)) / std::sqrt(double(H))).to(c.dtype));
    add("up_proj.weight", (at::randn({I, H}, opts.dtype(at::kFloat)) / std::sqrt(double(H))).to(c.dtype));
    add("down_proj.weight", (at::randn({H, I}, opts.dtype(at::kFloat)) / std::sqrt(double(I))).to(c.dtype));
  } else {
    add("a", at::randn({T, I}, opts));
    add("b", at::randn({T, I}, opts));
  }
  return in;
}

// Runs the MLP (or the bare activation) with `gated(a, b)` as the activation-times-up step.
template <typename Gated>
std::vector<at::Tensor> run(const KernelInputs& in, const CaseConfig& c, Gated gated) {
  const auto& t = in.tensors;
  if (!mlp_scope(c)) return {gated(t[0], t[1])};
  const at::Tensor& x = t[0];
  return {linear_fp32_accumulated(gated(linear_fp32_accumulated(x, t[1]), linear_fp32_accumulated(x, t[2])), t[3])};
}

}  // namespace

KernelSpec glu_spec(const GluActivationSpec& act) {
  KernelSpec s;
  s.name = act.name;
  s.category = "activation";
  s.description = act.description;
  s.ops = act.ops;
  s.small_axes = {{"T", 7}, {"H", 24}, {"I", 43}};
  s.axes = {{"T", 1024, "tokens (batch 1 x sequence)"},
            {"H", 4096, "hidden size (mlp scope)"},
            {"I", 14336, "intermediate size"}};
  s.params = {{"scope", "mlp", {"mlp", "activation"}, nullptr}};
  offer_float_dtypes(s, "bf16");
  s.make_inputs = make_inputs;
  auto liger = act.liger;
  auto base = act.baseline_act;
  auto ref = act.reference_act;
  s.liger = [liger](const KernelInputs& in, const CaseConfig& c) { return run(in, c, liger); };
  s.baseline = [base](const KernelInputs& in, const CaseConfig& c) {
    return run(in, c, [&](const at::Tensor& a, const at::Tensor& b) { return base(a) * b; });
  };
  s.reference = [ref](const KernelInputs& in, const CaseConfig& c) {
    return run(in, c, [&](const at::Tensor& a, const at::Tensor& b) { return ref(a) * b; });
  };
  const double act_flops = act.act_flops;
  s.cost = [act_flops](const CaseConfig& c, Mode m) {
    const double T = c.axis("T"), H = c.axis("H"), I = c.axis("I"), es = at::elementSize(c.dtype);
    // Activation alone: forward reads a, b and writes c; backward reads dc, a, b, writes da, db.
    Cost fwd{3 * T * I * es, (act_flops + 1) * T * I};
    Cost bwd{5 * T * I * es, (2 * act_flops + 4) * T * I};
    if (c.param("scope") == "mlp") {
      // Plus three GEMMs forward (weights read once, gate/up written, down read) and six backward.
      fwd.bytes += (3 * H * I + 2 * T * H + 3 * T * I) * es;
      fwd.flops += 6 * T * H * I;
      bwd.bytes += (6 * H * I + 3 * T * H + 3 * T * I) * es;
      bwd.flops += 12 * T * H * I;
    }
    return cost_by_mode(m, fwd, bwd);
  };
  s.memory_estimate = [](const CaseConfig& c) {
    const double T = c.axis("T"), H = c.axis("H"), I = c.axis("I"), es = at::elementSize(c.dtype);
    return c.param("scope") == "mlp" ? (6 * H * I + 8 * T * I + 4 * T * H) * es : 8 * T * I * es;
  };
  return s;
}

}  // namespace ligerbench::specs
