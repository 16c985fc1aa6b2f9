// rms_norm: KERNELS.md section 1. Baseline: HuggingFace's LlamaRMSNorm / GemmaRMSNorm code.
#include "liger/rms_norm.h"

#include "specs.h"

namespace ligerbench::specs {
namespace {

c10::optional<at::Tensor> weight_of(const KernelInputs& in) { return optional_input(in, 1); }

KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t T = c.axis("T"), H = c.axis("H");
  const auto opts = at::TensorOptions().device(c.device);
  KernelInputs in = randn_input(c, {T, H});
  if (c.param_bool("elementwise_affine")) {
    const auto wdt = c.param("weight_dtype") == "fp32" ? at::kFloat : c.dtype;
    // Trained-looking weights: around 1 for offset 0 (Llama), around 0 for offset 1 (Gemma).
    const double center = c.param_double("offset") == 0.0 ? 1.0 : 0.0;
    add_input(in, "weight", (center + 0.1 * at::randn({H}, opts.dtype(at::kFloat))).to(wdt).requires_grad_(true));
  }
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  return {liger::rms_norm(in.tensors[0], weight_of(in), c.param_double("eps"), c.param_double("offset"),
                          c.param("casting_mode"), c.param_bool("in_place"))};
}

// HuggingFace's code for each casting mode (LlamaRMSNorm, GemmaRMSNorm, a plain one for none).
std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  const at::Tensor& x = in.tensors[0];
  const auto w = weight_of(in);
  const double eps = c.param_double("eps"), offset = c.param_double("offset");
  const std::string& mode = c.param("casting_mode");
  if (mode == "llama") {
    at::Tensor h = x.to(at::kFloat);
    const at::Tensor variance = h.pow(2).mean(-1, true);
    h = h * at::rsqrt(variance + eps);
    at::Tensor y = h.to(x.scalar_type());
    return {w ? (offset + *w) * y : y};
  }
  if (mode == "gemma") {
    const at::Tensor h = x.to(at::kFloat);
    at::Tensor y = h * at::rsqrt(h.pow(2).mean(-1, true) + eps);
    if (w) y = y * (1.0 * offset + w->to(at::kFloat));
    return {y.to(x.scalar_type())};
  }
  at::Tensor y = x * at::rsqrt(x.pow(2).mean(-1, true) + eps);
  return {w ? y * (offset + w->to(x.scalar_type())) : y};
}

std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  const at::Tensor& x = in.tensors[0];
  const auto w = weight_of(in);
  at::Tensor y = x * at::rsqrt(x.pow(2).mean(-1, true) + c.param_double("eps"));
  return {w ? y * (c.param_double("offset") + *w) : y};
}

Cost cost(const CaseConfig& c, Mode m) {
  const double T = c.axis("T"), H = c.axis("H");
  const double es = at::elementSize(c.dtype);
  const double ws = c.param_bool("elementwise_affine") ? H * (c.param("weight_dtype") == "fp32" ? 4 : es) : 0;
  const Cost fwd{2 * T * H * es + ws + 4 * T, 4 * T * H};
  const Cost bwd{3 * T * H * es + 2 * ws + 4 * T, 8 * T * H};
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec rms_norm() {
  KernelSpec s = named_spec("rms_norm", "norm",
                            "RMSNorm over the last dim, y = x * rstd * (offset + w)",
                            {"liger::rms_norm_forward", "liger::rms_norm_backward"});
  s.small_axes = {{"T", 9}, {"H", 67}};
  s.axes = {{"T", 1024, "rows (batch x sequence tokens)"}, {"H", 4096, "hidden size"}};
  s.params = {
      {"eps", "1e-6", {}, validate_positive},
      {"offset", "0.0", {}, validate_number},
      {"casting_mode", "llama", {"llama", "gemma", "none"}, nullptr},
      {"in_place", "true", {"true", "false"}, nullptr},
      {"elementwise_affine", "true", {"true", "false"}, nullptr},
      // Liger's benchmark keeps the weight in fp32 while x is bf16.
      {"weight_dtype", "fp32", {"fp32", "input"}, nullptr},
  };
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  s.memory_estimate = [](const CaseConfig& c) { return 6.0 * c.axis("T") * c.axis("H") * at::elementSize(c.dtype); };
  return s;
}

}  // namespace ligerbench::specs
