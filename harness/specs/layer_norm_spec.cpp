// layer_norm: KERNELS.md section 2. Baseline: PyTorch's native fused layer norm (at::layer_norm),
// which the upstream model code reaches through torch.nn.LayerNorm.
#include "liger/layer_norm.h"

#include "specs.h"

namespace ligerbench::specs {
namespace {

KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t T = c.axis("T"), H = c.axis("H");
  const auto opts = at::TensorOptions().device(c.device);
  // Liger's benchmark casts the module to the input's dtype; "fp32" keeps the parameters in fp32.
  const auto pdt = c.param("weight_dtype") == "fp32" ? at::kFloat : c.dtype;
  KernelInputs in = randn_input(c, {T, H});
  // Trained-looking parameters: weight around 1, bias around 0.
  add_input(in, "weight", (1 + 0.1 * at::randn({H}, opts.dtype(at::kFloat))).to(pdt).requires_grad_(true));
  add_input(in, "bias", (0.1 * at::randn({H}, opts.dtype(at::kFloat))).to(pdt).requires_grad_(true));
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  return {liger::layer_norm(in.tensors[0], in.tensors[1], in.tensors[2], c.param_double("eps"))};
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  const at::Tensor& x = in.tensors[0];
  return {at::layer_norm(x, {x.size(-1)}, in.tensors[1], in.tensors[2], c.param_double("eps"))};
}

// Called with float64 inputs: the definition, biased variance.
std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  const at::Tensor& x = in.tensors[0];
  const at::Tensor mean = x.mean(-1, true);
  const at::Tensor var = (x - mean).pow(2).mean(-1, true);
  return {(x - mean) * at::rsqrt(var + c.param_double("eps")) * in.tensors[1] + in.tensors[2]};
}

Cost cost(const CaseConfig& c, Mode m) {
  const double T = c.axis("T"), H = c.axis("H");
  const double es = at::elementSize(c.dtype);
  const double ps = H * (c.param("weight_dtype") == "fp32" ? 4 : es);  // one parameter vector
  const Cost fwd{2 * T * H * es + 2 * ps + 8 * T, 7 * T * H};           // x, y, w, b, mean, rstd
  const Cost bwd{3 * T * H * es + 3 * ps + 8 * T, 11 * T * H};          // x, dy, dx, w, dw, db, stats
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec layer_norm() {
  KernelSpec s = named_spec("layer_norm", "norm",
                            "LayerNorm over the last dim, y = (x - mean) * rstd * w + b",
                            {"liger::layer_norm_forward", "liger::layer_norm_backward"});
  s.small_axes = {{"T", 9}, {"H", 67}};
  s.axes = {{"T", 1024, "rows (batch x sequence tokens)"}, {"H", 4096, "hidden size"}};
  s.params = {
      {"eps", "1e-6", {}, validate_positive},
      {"weight_dtype", "input", {"input", "fp32"}, nullptr},
  };
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  s.memory_estimate = [](const CaseConfig& c) { return 6.0 * c.axis("T") * c.axis("H") * at::elementSize(c.dtype); };
  return s;
}

}  // namespace ligerbench::specs
