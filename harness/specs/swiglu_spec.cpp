// swiglu: KERNELS.md section 4. Baseline: HF LlamaMLP with SiLU, down(silu(gate(x)) * up(x)).
#include "liger/swiglu.h"

#include "glu_mlp.h"
#include "specs.h"

namespace ligerbench::specs {

KernelSpec swiglu() {
  GluActivationSpec act;
  act.name = "swiglu";
  act.description = "SwiGLU MLP (fused silu(a) * b between the gate/up and down GEMMs), or the op alone";
  act.ops = {"liger::swiglu_forward", "liger::swiglu_backward"};
  act.liger = [](const at::Tensor& a, const at::Tensor& b) { return liger::liger_swiglu(a, b); };
  act.baseline_act = [](const at::Tensor& a) { return at::silu(a); };
  act.reference_act = [](const at::Tensor& a) { return a * at::sigmoid(a); };
  act.act_flops = 4;  // exp, add, divide, multiply
  return glu_spec(act);
}

}  // namespace ligerbench::specs
