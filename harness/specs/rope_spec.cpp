// rope: KERNELS.md section 3. Baseline: HF's apply_rotary_pos_emb (q * cos + rotate_half(q) * sin,
// rotate_half = cat(-x2, x1)) on q, k laid out as HF makes them (a transpose of (B, T, heads, D)).
#include "liger/rope.h"

#include "specs.h"

namespace ligerbench::specs {
namespace {

bool k_differentiable(const CaseConfig& c) { return c.param("grad_outputs") == "both"; }

KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t B = c.axis("B"), T = c.axis("T"), HQ = c.axis("HQ"), HKV = c.axis("HKV"), D = c.axis("D");
  const auto opts = at::TensorOptions().device(c.device);
  KernelInputs in;
  // Leaves with the projection's layout: (B, T, heads, D) storage seen as (B, heads, T, D).
  in.tensors.push_back(at::randn({B, T, HQ, D}, opts.dtype(c.dtype)).transpose(1, 2).detach().requires_grad_(true));
  in.tensors.push_back(
      at::randn({B, T, HKV, D}, opts.dtype(c.dtype)).transpose(1, 2).detach().requires_grad_(k_differentiable(c)));
  // HF's rotary embedding (theta 10000): fp32 angles, cos/sin of cat(freqs, freqs), cast to x's dtype.
  const at::Tensor inv_freq =
      1.0 / at::pow(10000.0, at::arange(0, D, 2, opts.dtype(at::kFloat)) / static_cast<double>(D));
  const at::Tensor freqs = at::outer(at::arange(T, opts.dtype(at::kFloat)), inv_freq);
  const at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(0);
  in.tensors.push_back(emb.cos().to(c.dtype));
  in.tensors.push_back(emb.sin().to(c.dtype));
  in.names = {"q", "k", "cos", "sin"};
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig&) {
  const auto& t = in.tensors;
  auto [q, k] = liger::liger_rotary_pos_emb(t[0], t[1], t[2], t[3]);
  return {q, k};
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// HF's apply_rotary_pos_emb (unsqueeze_dim 1); also the float64 reference.
std::vector<at::Tensor> hf_fn(const KernelInputs& in, const CaseConfig&) {
  const auto& t = in.tensors;
  const at::Tensor cos = t[2].unsqueeze(1), sin = t[3].unsqueeze(1);
  return {t[0] * cos + rotate_half(t[0]) * sin, t[1] * cos + rotate_half(t[1]) * sin};
}

Cost cost(const CaseConfig& c, Mode m) {
  const double B = c.axis("B"), T = c.axis("T"), HQ = c.axis("HQ"), HKV = c.axis("HKV"), D = c.axis("D");
  const double es = at::elementSize(c.dtype);
  const double cos_sin = 2 * T * (D / 2) * es;  // the half of each cos/sin row that is read
  const Cost fwd{2 * (HQ + HKV) * B * T * D * es + cos_sin, 3 * (HQ + HKV) * B * T * D};
  const double back_heads = k_differentiable(c) ? HQ + HKV : HQ;
  const Cost bwd{2 * back_heads * B * T * D * es + cos_sin, 3 * back_heads * B * T * D};
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec rope() {
  KernelSpec s = named_spec("rope", "attention",
                            "Rotary position embedding of q and k (HF rotate_half convention), one launch",
                            {"liger::rope_forward", "liger::rope_backward"});
  s.small_axes = {{"T", 7}, {"B", 2}, {"HQ", 3}, {"HKV", 1}, {"D", 16}};
  s.axes = {{"T", 1024, "sequence length"},
            {"B", 1, "batch"},
            {"HQ", 32, "query heads"},
            {"HKV", 8, "key/value heads"},
            {"D", 128, "head dim: rotated in pairs", 1, 2}};
  // Liger's benchmark back-propagates only q's output ("q"); "both" also k's (as training does).
  s.params = {{"grad_outputs", "q", {"q", "both"}, nullptr}};
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, hf_fn, hf_fn, cost});
  s.memory_estimate = [](const CaseConfig& c) {
    return 6.0 * (c.axis("HQ") + c.axis("HKV")) * c.axis("B") * c.axis("T") * c.axis("D") * at::elementSize(c.dtype);
  };
  return s;
}

}  // namespace ligerbench::specs
