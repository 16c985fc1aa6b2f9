// sparsemax: KERNELS.md section 10. Baseline: the sort/cumsum composition of Liger's benchmark
// (torch_sparsemax), run in the input's dtype as the benchmark runs it.
#include "liger/sparsemax.h"

#include "sparsemax_math.h"
#include "specs.h"

namespace ligerbench::specs {
namespace {

KernelInputs make_inputs(const CaseConfig& c) { return randn_input(c, {c.axis("T"), c.axis("H")}); }

int64_t dim_of(const CaseConfig& c) { return std::stoll(c.param("dim")); }

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  return {liger::sparsemax(in.tensors[0], dim_of(c))};
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  return {sort_sparsemax(in.tensors[0], dim_of(c), /*strict=*/false)};
}

// The same composition in float64 is exact to float64 rounding; autograd gives its gradient.
std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  return {sort_sparsemax(in.tensors[0], dim_of(c), /*strict=*/true)};
}

Cost cost(const CaseConfig& c, Mode m) {
  const double n = static_cast<double>(c.axis("T")) * c.axis("H");
  const double es = at::elementSize(c.dtype);
  // Forward: read x, write y; the max, the support sum and the output (the search's extra
  // passes over registers are not counted). Backward: read y, dy, write dx.
  const Cost fwd{2 * n * es, 4 * n};
  const Cost bwd{3 * n * es, 3 * n};
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec sparsemax() {
  KernelSpec s = named_spec("sparsemax", "activation",
                            "sparsemax (projection onto the simplex) along a dim, threshold search without sorting",
                            {"liger::sparsemax_forward", "liger::sparsemax_backward"});
  // The sort/cumsum baseline in 16-bit misses the float64 reference: its cumsum and tau round to
  // the input's dtype, and clamp_min passes gradient where x == tau exactly.
  s.baseline_inexact_dtypes = {"fp16", "bf16"};
  s.small_axes = {{"T", 9}, {"H", 67}};
  s.axes = {{"T", 1024, "rows (batch x sequence tokens)"}, {"H", 4096, "row length"}};
  s.params = {{"dim", "-1", {"-1", "1", "0", "-2"}, nullptr}};
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  // The baseline holds the sorted copy and its int64 indices, the cumsum, the support masks, the
  // output and the gradients.
  s.memory_estimate = [](const CaseConfig& c) {
    return (8.0 * at::elementSize(c.dtype) + 10.0) * c.axis("T") * c.axis("H");
  };
  return s;
}

}  // namespace ligerbench::specs
