// softmax: KERNELS.md section 9. Baseline: torch.softmax(x, -1), as Liger's benchmark calls it.
#include "liger/softmax.h"

#include "specs.h"

namespace ligerbench::specs {
namespace {

KernelInputs make_inputs(const CaseConfig& c) { return randn_input(c, {c.axis("T"), c.axis("H")}); }

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig&) { return {liger::softmax(in.tensors[0])}; }

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig&) { return {at::softmax(in.tensors[0], -1)}; }

// Called with float64 inputs: torch's softmax is exact to float64 rounding there.
std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig&) {
  return {at::softmax(in.tensors[0], -1)};
}

Cost cost(const CaseConfig& c, Mode m) {
  const double n = static_cast<double>(c.axis("T")) * c.axis("H");
  const double es = at::elementSize(c.dtype);
  const Cost fwd{2 * n * es, 4 * n};  // read x, write y; max, sub, exp, mul
  const Cost bwd{3 * n * es, 4 * n};  // read y, dy, write dx; dot, sub, mul
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec softmax() {
  KernelSpec s = named_spec("softmax", "activation",
                            "softmax over the last dim, fp32 max/exp/sum, y rounded once",
                            {"liger::softmax_forward", "liger::softmax_backward"});
  s.small_axes = {{"T", 9}, {"H", 67}};
  s.axes = {{"T", 1024, "rows (batch x sequence tokens)"}, {"H", 4096, "row length"}};
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  s.memory_estimate = [](const CaseConfig& c) { return 5.0 * c.axis("T") * c.axis("H") * at::elementSize(c.dtype); };
  return s;
}

}  // namespace ligerbench::specs
