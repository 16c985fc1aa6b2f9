// geglu: KERNELS.md section 5. Baseline: HF LlamaMLP with gelu_pytorch_tanh, down(gelu(gate(x)) * up(x)).
#include "liger/geglu.h"

#include <cmath>

#include "glu_mlp.h"
#include "specs.h"

namespace ligerbench::specs {

KernelSpec geglu() {
  GluActivationSpec act;
  act.name = "geglu";
  act.description = "GeGLU MLP (fused gelu_tanh(a) * b between the gate/up and down GEMMs), or the op alone";
  act.ops = {"liger::geglu_forward", "liger::geglu_backward"};
  act.liger = [](const at::Tensor& a, const at::Tensor& b) { return liger::liger_geglu(a, b); };
  act.baseline_act = [](const at::Tensor& a) { return at::gelu(a, "tanh"); };
  act.reference_act = [](const at::Tensor& a) {
    return 0.5 * a * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (a + 0.044715 * a.pow(3))));
  };
  act.act_flops = 9;  // cube, fma, tanh, adds and products
  return glu_spec(act);
}

}  // namespace ligerbench::specs
