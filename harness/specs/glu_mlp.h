#pragma once
// What swiglu_spec.cpp and geglu_spec.cpp share: the same MLP around a different activation.
#include "ligerbench/kernel_spec.h"

namespace ligerbench::specs {

struct GluActivationSpec {
  std::string name;         // registry name: "swiglu" or "geglu"
  std::string description;
  std::vector<std::string> ops;
  // The fused op (Liger side), the activation as HF's model code writes it (baseline), and in float64.
  std::function<at::Tensor(const at::Tensor& a, const at::Tensor& b)> liger;
  std::function<at::Tensor(const at::Tensor& a)> baseline_act;
  std::function<at::Tensor(const at::Tensor& a)> reference_act;
  double act_flops;         // per element of the activation, forward (backward counts twice that)
};

// scope=mlp (default): x (1, T, H) -> gate/up projections -> activation * up -> down projection,
// Liger's benchmark of the module against HF's LlamaMLP, down(act(gate(x)) * up(x)).
// scope=activation: just the elementwise op on a, b (T, I) against act(a) * b in eager ops.
KernelSpec glu_spec(const GluActivationSpec& act);

}  // namespace ligerbench::specs
