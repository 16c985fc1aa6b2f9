#pragma once
// KernelSpec: everything the harness needs to know about one kernel. One file per kernel in
// harness/specs/, plus one line in harness/src/registry.cpp.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ligerbench {

// kInference: the forward with no input requiring grad, under c10::InferenceMode (what an
// evaluation loop runs); the losses compute the loss only there. The other three are training.
enum class Mode { kForward, kBackward, kFull, kInference };
enum class Provider { kLiger, kBaseline };

const char* mode_name(Mode m);
// Whether a mode differentiates: backward and full time and check input gradients.
bool has_backward(Mode m);
const char* provider_name(Provider p);
std::optional<Mode> parse_mode(const std::string& s);
std::optional<Provider> parse_provider(const std::string& s);
// "fp32" -> kFloat, "fp16" -> kHalf, "bf16" -> kBFloat16, "fp64" -> kDouble.
std::optional<at::ScalarType> parse_dtype(const std::string& s);
std::string dtype_name(at::ScalarType t);

struct AxisSpec {
  std::string name;
  int64_t default_value;
  std::string description;
  // Smallest value a suite may give. 1: an empty tensor is not a benchmark, and a kernel that
  // takes one would "pass" with a speedup over nothing. A kernel that supports empty input says 0.
  int64_t min_value = 1;
  // Every value a multiple of this (rope's head dim rotates pairs, int2 packs 4 rows of K a byte):
  // refused at admission, before a kernel would refuse it.
  int64_t multiple_of = 1;
  // Any other rule on a value: returns the reason a value is refused, or "" when fine. Null: none.
  std::function<std::string(int64_t)> validate;
};

struct ParamSpec {
  std::string name;
  std::string default_value;
  std::vector<std::string> choices;  // empty: any value `validate` accepts
  // Returns an error message for a bad value, or "" when fine. Null: any value of `choices`.
  std::function<std::string(const std::string&)> validate;
};

// One concrete case: the kernel's axes bound to values, a dtype, a device and its parameters.
struct CaseConfig {
  std::vector<std::pair<std::string, int64_t>> shape;  // in the spec's axis order
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  std::map<std::string, std::string> params;           // every ParamSpec, defaults filled in
  uint64_t seed = 0;

  int64_t axis(const std::string& name) const;
  const std::string& param(const std::string& name) const;
  double param_double(const std::string& name) const;
  bool param_bool(const std::string& name) const;
};

struct KernelInputs {
  std::vector<at::Tensor> tensors;  // differentiable ones have requires_grad set
  std::vector<std::string> names;   // "input", "weight", ...
};

// Pass criterion against float64 (harness/src/tolerance.cpp applies it):
// |x - ref| <= atol * max(1, rms(ref)) + rtol * |ref| everywhere, and rel_l2 <= rel_l2 or
// rms(x - ref) <= abs_floor.
struct Tolerance {
  double atol;
  double rtol;
  double rel_l2;
  // An absolute floor under the rel_l2 criterion, for outputs that are near zero by cancellation
  // (a mean of values of both signs), where a relative error measures only how close to zero the
  // reference happened to fall. 0: none (the dtype table). A spec that sets it says why.
  double abs_floor = 0;
};

// Minimum traffic and arithmetic of one call in each mode, for roofline figures.
struct Cost {
  double bytes = 0;
  double flops = 0;
};

using KernelFn = std::function<std::vector<at::Tensor>(const KernelInputs&, const CaseConfig&)>;

struct KernelSpec {
  std::string name;        // registry name, e.g. "rms_norm"
  std::string category;    // "norm", "activation", "loss", ...
  std::string description;
  std::vector<std::string> ops;  // dispatcher ops whose CPU/CUDA kernels make up the Liger side
  std::vector<AxisSpec> axes;
  std::vector<ParamSpec> params;
  std::vector<std::string> dtypes;  // supported dtype names
  std::string default_dtype;
  std::vector<Mode> modes;  // the modes a suite may ask for; default_modes() when it asks for none

  std::function<KernelInputs(const CaseConfig&)> make_inputs;  // seeded by config.seed
  KernelFn liger;
  KernelFn baseline;   // eager LibTorch, written as the upstream model code writes it
  KernelFn reference;  // exact math, called with float64 copies of the inputs; autograd gives gradients
  std::function<Cost(const CaseConfig&, Mode)> cost;
  // Bytes the inputs and the run need on the device (for admission checks); null: 4x inputs.
  std::function<double(const CaseConfig&)> memory_estimate;
  // Axis values small enough for the conformance test on a CPU in CI (every axis of `axes`,
  // odd sizes where the kernel allows them). Required: the conformance test fails without it.
  std::vector<std::pair<std::string, int64_t>> small_axes;
  // Per-dtype tolerances ("bf16" -> ...) where this kernel needs other than the dtype table
  // (tolerance_for); docs/KERNELS.md section 0 states the table and each kernel's overrides.
  std::map<std::string, Tolerance> tolerances;
  // Dtypes in which the baseline itself misses the float64 reference (its own rounding), so the
  // conformance test does not hold the baseline to it there; each spec says why.
  std::set<std::string> baseline_inexact_dtypes;
  // Non-empty for kernels whose forward computes and stores the input gradients (Liger's design
  // for the losses): their backward only rescales them, so a backward-mode row is not comparable
  // with the baseline's real backward. The liger row gets this note and no speedup or throughput.
  std::string backward_note;
};

// The modes a sweep without a `modes` list runs: every mode of the spec except inference, which
// a suite asks for by name (docs/MEASUREMENT.md, "The timed region, per mode").
std::vector<Mode> default_modes(const KernelSpec& spec);

// The notes of the gradient-in-forward kernels.
inline const char* kRescaleOnlyBackward =
    "backward times only the rescale of the gradient the forward stored; compare full mode";
inline const char* kRescaleOnceBackward =
    "backward times only the rescale of the gradient the forward stored, which a repeated backward "
    "with the same upstream gradient skips; compare full mode";

}  // namespace ligerbench
