#include <cmath>
#include <string>
#include <utility>

#include "specs.h"

namespace ligerbench::specs {

std::string validate_number(const std::string& v) {
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used != v.size() || !std::isfinite(d)) return "not a finite number";
  } catch (const std::exception&) {
    return "not a number";
  }
  return "";
}

std::string validate_positive(const std::string& v) {
  if (auto why = validate_number(v); !why.empty()) return why;
  return std::stod(v) > 0 ? "" : "must be positive";
}

void add_input(KernelInputs& in, std::string name, at::Tensor t) {
  if (!t.defined()) return;
  in.tensors.push_back(std::move(t));
  in.names.push_back(std::move(name));
}

c10::optional<at::Tensor> optional_input(const KernelInputs& in, std::size_t index) {
  if (index < in.tensors.size()) return in.tensors[index];
  return c10::nullopt;
}

KernelInputs randn_input(const CaseConfig& c, std::vector<int64_t> shape) {
  KernelInputs in;
  add_input(in, "input",
            at::randn(shape, at::TensorOptions().device(c.device).dtype(c.dtype)).requires_grad_(true));
  return in;
}

c10::optional<at::Tensor> optional_tensor(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

at::Tensor linear_fp32_accumulated(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b) {
  const bool sixteen_bit = x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
  if (!(x.is_cpu() && sixteen_bit)) return at::linear(x, w, b);
  const c10::optional<at::Tensor> bf = b.has_value() && b->defined() ? c10::optional<at::Tensor>(b->to(at::kFloat)) : c10::nullopt;
  return at::linear(x.to(at::kFloat), w.to(at::kFloat), bf).to(x.scalar_type());
}

KernelSpec named_spec(std::string name, std::string category, std::string description, std::vector<std::string> ops) {
  KernelSpec s;
  s.name = std::move(name);
  s.category = std::move(category);
  s.description = std::move(description);
  s.ops = std::move(ops);
  return s;
}

void set_calls(KernelSpec& s, SpecCalls calls) {
  s.make_inputs = std::move(calls.make_inputs);
  s.liger = std::move(calls.liger);
  s.baseline = std::move(calls.baseline);
  s.reference = std::move(calls.reference);
  s.cost = std::move(calls.cost);
}

void offer_float_dtypes(KernelSpec& s, const std::string& default_dtype) {
  s.dtypes = {"fp32", "fp16", "bf16"};
  s.default_dtype = default_dtype;
  s.modes = {Mode::kForward, Mode::kBackward, Mode::kFull, Mode::kInference};
}

Cost cost_by_mode(Mode m, const Cost& fwd, const Cost& bwd) {
  return cost_by_mode(m, fwd, bwd, Cost{fwd.bytes + bwd.bytes, fwd.flops + bwd.flops});
}

Cost cost_by_mode(Mode m, const Cost& fwd, const Cost& bwd, const Cost& full) {
  switch (m) {
    case Mode::kForward:
    case Mode::kInference: return fwd;
    case Mode::kBackward: return bwd;
    case Mode::kFull: return full;
  }
  return full;
}

}  // namespace ligerbench::specs
