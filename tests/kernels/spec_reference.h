#pragma once
// A registered kernel's float64 reference (its KernelSpec, harness/specs/), called as the harness
// calls it: each kernel's reference exists once, there, and the kernel tests hold Liger to that
// same formula instead of keeping copies of their own that could drift from it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <iomanip>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ligerbench/registry.h"

namespace ligerbench::testing {

inline const KernelSpec& spec_of(const std::string& name) {
  const KernelSpec* s = find_kernel(name);
  if (s == nullptr) throw std::runtime_error(name + " is not registered");
  return *s;
}

// A case's parameters: the spec's defaults, with `overrides` by name (each one the spec has).
inline std::map<std::string, std::string> spec_params(const KernelSpec& spec,
                                                      const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> params;
  for (const ParamSpec& p : spec.params) params[p.name] = p.default_value;
  for (const auto& [k, v] : overrides) {
    EXPECT_TRUE(params.count(k)) << spec.name << " has no param " << k;
    params[k] = v;
  }
  return params;
}

// A number as a parameter value, without std::to_string's six fixed decimals (1e-10 -> "0.000000").
inline std::string param_value(double v) {
  std::ostringstream s;
  s << std::setprecision(17) << v;
  return s.str();
}

// A detached float64 CPU copy of `t` (a reference's input, or a result to compare with one).
inline at::Tensor f64(const at::Tensor& t) { return t.detach().cpu().to(at::kDouble); }

// The spec's inputs by name (KernelInputs::names), in the spec's order; an undefined tensor is an
// optional input the case leaves out.
using NamedInputs = std::vector<std::pair<std::string, at::Tensor>>;

// The outputs of `kernel`'s reference for `inputs` (float64 CPU tensors; autograd differentiates
// the result with respect to those that require grad) at `params` over the spec's defaults.
inline std::vector<at::Tensor> spec_reference(const std::string& kernel, const NamedInputs& inputs,
                                              const std::map<std::string, std::string>& params = {}) {
  const KernelSpec& spec = spec_of(kernel);
  KernelInputs in;
  for (const auto& [name, t] : inputs) {
    if (!t.defined()) continue;
    in.names.push_back(name);
    in.tensors.push_back(t);
  }
  CaseConfig c;
  c.dtype = at::kDouble;
  c.params = spec_params(spec, params);
  return spec.reference(in, c);
}

// `kernel`'s reference differentiated as a kernel test differentiates Liger: float64 CPU copies
// of `inputs` (any device and dtype; undefined ones left out), each requiring grad, and autograd
// with upstream gradients `douts` (one per output, converted likewise). Returns the outputs
// (detached) followed by the gradient of each input in `inputs`' order (undefined where the input
// is, where it is not floating point (indices: passed on as they are), or where none flows to it).
inline std::vector<at::Tensor> spec_reference_and_grads(const std::string& kernel, const NamedInputs& inputs,
                                                        const std::vector<at::Tensor>& douts,
                                                        const std::map<std::string, std::string>& params = {}) {
  NamedInputs in64;
  std::vector<at::Tensor> leaves;
  for (const auto& [name, t] : inputs) {
    const bool differentiable = t.defined() && at::isFloatingType(t.scalar_type());
    in64.emplace_back(name, differentiable ? f64(t).requires_grad_(true) : t.defined() ? t.cpu() : at::Tensor());
    if (differentiable) leaves.push_back(in64.back().second);
  }
  const std::vector<at::Tensor> outs = spec_reference(kernel, in64, params);
  std::vector<at::Tensor> g64, result;
  for (const at::Tensor& d : douts) g64.push_back(f64(d));
  const auto grads = torch::autograd::grad(outs, leaves, g64, /*retain_graph=*/c10::nullopt, /*create_graph=*/false,
                                           /*allow_unused=*/true);
  for (const at::Tensor& o : outs) result.push_back(o.detach());
  size_t next = 0;
  for (const auto& [name, t] : in64) result.push_back(t.defined() && t.requires_grad() ? grads[next++] : at::Tensor());
  return result;
}

}  // namespace ligerbench::testing
