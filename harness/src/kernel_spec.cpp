#include "ligerbench/kernel_spec.h"

#include <stdexcept>
#include <vector>

namespace ligerbench {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kForward: return "forward";
    case Mode::kBackward: return "backward";
    case Mode::kFull: return "full";
    case Mode::kInference: return "inference";
  }
  return "?";
}

const char* provider_name(Provider p) { return p == Provider::kLiger ? "liger" : "baseline"; }

std::optional<Mode> parse_mode(const std::string& s) {
  if (s == "forward") return Mode::kForward;
  if (s == "backward") return Mode::kBackward;
  if (s == "full") return Mode::kFull;
  if (s == "inference") return Mode::kInference;
  return std::nullopt;
}

bool has_backward(Mode m) { return m == Mode::kBackward || m == Mode::kFull; }

std::vector<Mode> default_modes(const KernelSpec& spec) {
  std::vector<Mode> out;
  for (Mode m : spec.modes)
    if (m != Mode::kInference) out.push_back(m);
  return out;
}

std::optional<Provider> parse_provider(const std::string& s) {
  if (s == "liger") return Provider::kLiger;
  if (s == "baseline") return Provider::kBaseline;
  return std::nullopt;
}

std::optional<at::ScalarType> parse_dtype(const std::string& s) {
  if (s == "fp32") return at::kFloat;
  if (s == "fp16") return at::kHalf;
  if (s == "bf16") return at::kBFloat16;
  if (s == "fp64") return at::kDouble;
  if (s == "int8") return at::kChar;
  return std::nullopt;
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "fp32";
    case at::kHalf: return "fp16";
    case at::kBFloat16: return "bf16";
    case at::kDouble: return "fp64";
    case at::kChar: return "int8";
    default: return c10::toString(t);
  }
}

int64_t CaseConfig::axis(const std::string& name) const {
  for (const auto& [k, v] : shape)
    if (k == name) return v;
  throw std::out_of_range("no shape axis '" + name + "' in this case");
}

const std::string& CaseConfig::param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) throw std::out_of_range("no parameter '" + name + "' in this case");
  return it->second;
}

double CaseConfig::param_double(const std::string& name) const { return std::stod(param(name)); }

bool CaseConfig::param_bool(const std::string& name) const {
  const std::string& v = param(name);
  return v == "true" || v == "1" || v == "True";
}

}  // namespace ligerbench
