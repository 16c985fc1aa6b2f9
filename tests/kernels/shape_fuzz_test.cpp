// Shape fuzzer for every operator: random small cases, each of which must either match the float64
// reference (outputs and every input gradient, at the harness's per-dtype tolerance) or raise a
// c10::Error that names the operator ("liger::..."): never a crash, a hang or a wrong answer.
//
// Inputs, the Liger call and the float64 reference are the harness's own (harness/specs/*, via
// the kernel registry), so the fuzzer exercises exactly what a benchmark job runs. Each case draws
// - every shape axis from sizes that include 1, odd and prime sizes, sizes that are not a multiple
//   of a 16-byte pack, and (sometimes) 0 for one axis;
// - a dtype from the kernel's list plus float64 (on CUDA, which refuses it, rarely);
// - every parameter with a fixed set of choices at random;
// - for every input tensor a layout: as generated, a view starting one element into its storage
//   (misaligned for 16-byte access), a non-contiguous copy (stride-2 last dim or transposed), or
//   size-1 dims given stride 0 (a broadcast view), the values unchanged.
//
// Environment: LIGER_FUZZ_SEED (default 20261203) seeds everything; LIGER_FUZZ_CASES sets the
// cases per kernel and device (default 300 on CPU, 1000 on CUDA); LIGER_FUZZ_VERBOSE=1 prints each
// case before it runs, so a crash (or a compute-sanitizer report) names its case.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>

#include "ligerbench/registry.h"
#include "ligerbench/tolerance.h"
#include "test_util.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

uint64_t fuzz_seed() { return env_u64("LIGER_FUZZ_SEED", 20261203); }
int64_t fuzz_cases(const std::string& device) {
  return static_cast<int64_t>(env_u64("LIGER_FUZZ_CASES", device == "cuda" ? 1000 : 300));
}
bool fuzz_verbose() { return env_u64("LIGER_FUZZ_VERBOSE", 0) != 0; }

// 1, primes, odd sizes, sizes one off a pack of 8 or 4 elements, a few powers of two.
constexpr int64_t kSizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 11, 13, 15, 16, 17, 23, 31, 32, 33, 41, 61, 64, 65, 97, 127};
// Cases whose axes multiply to more than this are shrunk (keeps the CPU run within CI's budget).
constexpr int64_t kMaxAxesProduct = int64_t{1} << 16;
constexpr double kMaxFlops = double(int64_t{1} << 24);  // per case, as KernelSpec::cost counts them

enum class Layout { kAsIs, kOffsetByOne, kStridedLastDim, kTransposed, kBroadcastSizeOne };
const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kAsIs: return "as-is";
    case Layout::kOffsetByOne: return "offset+1";
    case Layout::kStridedLastDim: return "stride2-last";
    case Layout::kTransposed: return "transposed";
    case Layout::kBroadcastSizeOne: return "stride0-size1";
  }
  return "?";
}

// The same values as t (same shape, dtype, device) in the requested memory layout.
at::Tensor relaid(const at::Tensor& t, Layout l) {
  const at::Tensor src = t.detach();
  if (src.dim() == 0) return src.clone();
  switch (l) {
    case Layout::kAsIs: return src;
    case Layout::kOffsetByOne: {
      at::Tensor buf = at::empty({src.numel() + 1}, src.options());
      at::Tensor v = buf.narrow(0, 1, src.numel()).view(src.sizes());
      v.copy_(src);
      return v;
    }
    case Layout::kStridedLastDim: {
      std::vector<int64_t> wide(src.sizes().begin(), src.sizes().end());
      wide.back() = 2 * wide.back() + 1;
      at::Tensor v = at::empty(wide, src.options()).slice(-1, 1, wide.back(), 2);
      v.copy_(src);
      return v;
    }
    case Layout::kTransposed: {
      if (src.dim() < 2) return relaid(src, Layout::kOffsetByOne);
      return src.transpose(-1, -2).contiguous().transpose(-1, -2);
    }
    case Layout::kBroadcastSizeOne: {
      at::Tensor c = src.contiguous().clone();
      std::vector<int64_t> strides(c.strides().begin(), c.strides().end());
      for (int64_t d = 0; d < c.dim(); ++d)
        if (c.size(d) == 1) strides[d] = 0;
      return c.as_strided(c.sizes(), strides);
    }
  }
  return src;
}

struct FuzzCase {
  CaseConfig config;
  std::vector<Layout> layouts;  // per input tensor (filled once the inputs exist)
  int64_t index = 0;
};

std::string describe(const KernelSpec& spec, const FuzzCase& c, const KernelInputs* in) {
  std::ostringstream os;
  os << spec.name << " case " << c.index << " (LIGER_FUZZ_SEED=" << fuzz_seed() << "): " << dtype_name(c.config.dtype)
     << " on " << c.config.device << ", shape";
  for (const auto& [axis, v] : c.config.shape) os << " " << axis << "=" << v;
  for (const auto& [k, v] : c.config.params) os << ", " << k << "=" << v;
  if (in != nullptr) {
    os << ", inputs";
    for (size_t i = 0; i < in->tensors.size(); ++i) {
      const at::Tensor& t = in->tensors[i];
      os << " " << (i < in->names.size() ? in->names[i] : "?") << t.sizes() << ":"
         << (i < c.layouts.size() ? layout_name(c.layouts[i]) : "as-is");
    }
  }
  return os.str();
}

FuzzCase draw_case(const KernelSpec& spec, const at::Device& device, std::mt19937_64& rng, int64_t index) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  FuzzCase c;
  c.index = index;
  c.config.device = device;
  c.config.seed = rng();
  // float64: a dtype like the others on CPU; on CUDA (which refuses it) one case in 20, to check
  // that the refusal is clear.
  std::vector<std::string> dtypes = spec.dtypes;
  if (device.is_cpu()) dtypes.push_back("fp64");
  c.config.dtype = *parse_dtype(device.is_cuda() && pick(20) == 0 ? "fp64" : dtypes[pick(dtypes.size())]);
  int64_t product = 1;
  for (const auto& axis : spec.axes) {
    int64_t v = kSizes[pick(std::size(kSizes))];
    // An axis the spec constrains (AxisSpec::multiple_of) gets a multiple in 3 cases of 4; the
    // others check the kernel's own refusal, since callers outside the harness pass anything.
    if (axis.multiple_of > 1 && pick(4) != 0) v = (v + axis.multiple_of - 1) / axis.multiple_of * axis.multiple_of;
    if (axis.validate && pick(4) != 0)  // likewise the next value its rule takes (an odd K, say)
      for (int64_t w = v; w < v + 16; ++w)
        if (axis.validate(w).empty()) {
          v = w;
          break;
        }
    c.config.shape.push_back({axis.name, v});
    product *= v;
  }
  // Shrink the largest axis until the case is small.
  while (product > kMaxAxesProduct) {
    auto largest = std::max_element(c.config.shape.begin(), c.config.shape.end(),
                                    [](const auto& a, const auto& b) { return a.second < b.second; });
    product /= largest->second;
    largest->second = std::max<int64_t>(1, largest->second / 3);
    product *= largest->second;
  }
  for (const auto& p : spec.params)
    c.config.params[p.name] = p.choices.empty() ? p.default_value : p.choices[pick(p.choices.size())];
  // A small tensor can still be much work (multi-token attention's conv: C^2 K^2 L^2): shrink
  // the largest axis until the spec's cost model says the training step is small too.
  auto full_step_flops = [&] { return spec.cost ? spec.cost(c.config, Mode::kFull).flops : 0.0; };
  while (full_step_flops() > kMaxFlops) {
    auto largest = std::max_element(c.config.shape.begin(), c.config.shape.end(),
                                    [](const auto& a, const auto& b) { return a.second < b.second; });
    if (largest->second <= 1) break;
    largest->second = largest->second / 2;
    // and back to a value the axis's rule takes, if halving left it (an odd K halved to even)
    const auto axis = std::find_if(spec.axes.begin(), spec.axes.end(), [&](const AxisSpec& a) { return a.name == largest->first; });
    if (axis != spec.axes.end() && axis->validate && !axis->validate(largest->second).empty() && largest->second > 1)
      --largest->second;
  }
  if (!c.config.shape.empty() && pick(25) == 0) c.config.shape[pick(c.config.shape.size())].second = 0;
  return c;
}

// Float64 copies on the CPU, requiring gradients where the originals do.
KernelInputs float64_copy(const KernelInputs& in) {
  KernelInputs out;
  out.names = in.names;
  for (const auto& t : in.tensors) {
    at::Tensor r = t.detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
    if (at::isFloatingType(r.scalar_type())) r = r.to(at::kDouble);
    r.set_requires_grad(t.requires_grad());
    out.tensors.push_back(r);
  }
  return out;
}

std::vector<at::Tensor> requiring_grad(const std::vector<at::Tensor>& ts) {
  std::vector<at::Tensor> out;
  for (const auto& t : ts)
    if (t.defined() && t.requires_grad()) out.push_back(t);
  return out;
}

std::vector<at::Tensor> grads_of(const std::vector<at::Tensor>& outs, const std::vector<at::Tensor>& ins,
                                 const std::vector<at::Tensor>& gouts) {
  if (outs.empty() || ins.empty()) return {};
  return torch::autograd::grad(outs, ins, gouts, /*retain_graph=*/false, /*create_graph=*/false,
                               /*allow_unused=*/true);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

struct Tally {
  int64_t compared = 0;   // matched the reference
  int64_t refused = 0;    // a clear liger:: error
  int64_t not_built = 0;  // the harness's generator or reference, or this LibTorch, cannot run the case
  int64_t rel_l2_only = 0;  // within the elementwise tolerance, rel_l2 above it by less than the slack
  std::string worst_rel_l2;
  double worst_rel_l2_ratio = 0;
  std::map<std::string, int64_t> refusals;
};

// Coarser dtypes have looser tolerances: fp64 < fp32 < fp16 < bf16.
int coarseness(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return 0;
    case at::kFloat: return 1;
    case at::kHalf: return 2;
    case at::kBFloat16: return 3;
    default: return 0;
  }
}

// How far rel_l2 may exceed its tolerance when every element is within the elementwise one: a
// few tiny cases are ill-conditioned (a bf16 MLP with 2 intermediate units, whose weight gradients
// cancel over the tokens). Such a miss is listed, not failed; a layout or indexing bug misses by
// orders of magnitude more.
double rel_l2_slack(at::ScalarType t) { return coarseness(t) >= 2 ? 2.0 : 4.0; }

// Gradients left out of the comparison (the case still runs, its outputs are compared). A norm's
// input gradient over rows of 1 or 2 elements is eps-sized (x_hat is +-1 up to eps) and
// is the difference of nearly equal fp32 terms, in Liger's formula as in PyTorch's: relative
// errors of 1e-3 and more are the formula's conditioning, not a fault. Its forward and weight
// gradients are still compared.
// Likewise the weight gradients of a 16-bit GLU MLP (scope=mlp) over a handful of tokens or
// intermediate units: sums of a few bf16 GEMM products that cancel, measuring the module's
// linears rather than the fused op (whose own gradients the activation scope compares).
bool ill_conditioned_grad(const KernelSpec& spec, const CaseConfig& config, const std::string& grad) {
  if (spec.category == "norm") return grad == "grad_input" && config.axis("H") <= 2;
  const auto scope = config.params.find("scope");
  const bool mlp = scope != config.params.end() && scope->second == "mlp";
  const bool weight = grad.size() > 7 && grad.compare(grad.size() - 7, 7, ".weight") == 0;
  return mlp && weight && coarseness(config.dtype) >= 2;
}

// The dtype a case is computed in: the case's, or a coarser one that a parameter (an fp32
// weight_dtype or accum_dtype in a float64 case) or an input brings in.
at::ScalarType compute_dtype(const CaseConfig& config, const KernelInputs& in) {
  at::ScalarType t = config.dtype;
  auto coarsen = [&](at::ScalarType u) {
    if (coarseness(u) > coarseness(t)) t = u;
  };
  for (const auto& x : in.tensors)
    if (x.defined() && at::isFloatingType(x.scalar_type())) coarsen(x.scalar_type());
  for (const auto& [k, v] : config.params)
    if ((k == "accum_dtype" || k == "weight_dtype") && parse_dtype(v)) coarsen(*parse_dtype(v));
  return t;
}

// LibTorch 1.13 has no CPU fp16 GEMM: an MLP case (the module's own linears) cannot run there.
bool platform_limit(const std::string& msg, const CaseConfig& config) {
  return config.device.is_cpu() && msg.find("not implemented for 'Half'") != std::string::npos &&
         msg.find("liger::") == std::string::npos;
}

// Runs one case; records failures with ADD_FAILURE (the case's description says how to reproduce it).
void run_case(const KernelSpec& spec, FuzzCase& c, Tally& tally) {
  KernelInputs in;
  try {
    at::manual_seed(c.config.seed);
    in = spec.make_inputs(c.config);
  } catch (const c10::Error&) {
    ++tally.not_built;  // e.g. no valid label in an empty vocabulary: nothing to call the kernel with
    return;
  }
  std::mt19937_64 layout_rng(c.config.seed);
  for (auto& t : in.tensors) {
    const Layout l = static_cast<Layout>(layout_rng() % 5);
    c.layouts.push_back(t.defined() ? l : Layout::kAsIs);
    if (!t.defined() || l == Layout::kAsIs) continue;
    const bool grad = t.requires_grad();
    t = relaid(t, l);
    if (grad) t.requires_grad_(true);
  }
  const std::string what = describe(spec, c, &in);
  if (fuzz_verbose()) std::cout << "[fuzz] " << what << std::endl;
  KernelInputs ref_in = float64_copy(in);  // before the kernel: some overwrite their inputs
  std::vector<at::Tensor> outs, grads, gouts;
  std::vector<std::string> grad_names;
  try {
    outs = spec.liger(in, c.config);
    std::vector<at::Tensor> dins;
    for (size_t i = 0; i < in.tensors.size(); ++i)
      if (in.tensors[i].defined() && in.tensors[i].requires_grad()) {
        dins.push_back(in.tensors[i]);
        grad_names.push_back("grad_" + in.names[i]);
      }
    const auto douts = requiring_grad(outs);
    at::manual_seed(c.config.seed + 1);
    for (const auto& o : douts) gouts.push_back(at::randn(o.sizes(), o.options().requires_grad(false)));
    std::vector<at::Tensor> gouts_copy;  // in-place backwards may overwrite the upstream gradient
    for (const auto& g : gouts) gouts_copy.push_back(g.clone());
    grads = grads_of(douts, dins, gouts_copy);
    for (auto& t : outs) t = t.defined() ? t.detach().cpu() : t;
    for (auto& g : grads) g = g.defined() ? g.cpu() : g;
  } catch (const c10::Error& e) {
    const std::string msg = first_line(e.what_without_backtrace());
    if (platform_limit(msg, c.config)) {
      ++tally.not_built;
      return;
    }
    if (msg.find("liger::") == std::string::npos) {
      ADD_FAILURE() << what << "\nraised an error that does not name the operator: " << msg;
      return;
    }
    ++tally.refused;
    ++tally.refusals[msg.substr(0, 140)];
    return;
  }
  std::vector<at::Tensor> ref_outs, ref_grads;
  try {
    ref_outs = spec.reference(ref_in, c.config);
    std::vector<at::Tensor> gref;
    for (const auto& g : gouts) gref.push_back(g.to(at::kCPU, at::kDouble));
    ref_grads = grads_of(requiring_grad(ref_outs), requiring_grad(ref_in.tensors), gref);
  } catch (const c10::Error&) {
    ++tally.not_built;  // the reference cannot take this case (liger ran; nothing to compare it with)
    return;
  }
  const at::ScalarType tol_dtype = compute_dtype(c.config, in);
  const Tolerance tol = tolerance_for(spec, tol_dtype);  // the spec's own overrides, as the harness judges
  std::ostringstream bad;
  int64_t near_misses = 0;
  auto compare = [&](const std::string& name, const at::Tensor& actual, const at::Tensor& expected) {
    if (!expected.defined()) return;  // no gradient flows there in the reference either
    if (!actual.defined()) {
      if (expected.abs().max().item<double>() != 0.0) bad << "\n  " << name << ": undefined, reference is not zero";
      return;
    }
    if (actual.sizes() != expected.sizes()) {
      bad << "\n  " << name << ": shape " << actual.sizes() << ", reference " << expected.sizes();
      return;
    }
    const auto e = compare_tensors(name, actual, expected.detach(), tol);
    // A reference at rounding-noise level (say the gradient of an RMSNorm over one element, 0 up
    // to a cancellation) has no meaningful relative error: there the elementwise atol decides, as
    // compare_tensors does for an all-zero reference.
    const double ref_rms = expected.numel() > 0 ? expected.detach().to(at::kDouble).pow(2).mean().sqrt().item<double>() : 0.0;
    const bool noise_level = e.finite() && ref_rms < tol.atol && e.max_abs() <= tol.atol;
    if (e.passed() || noise_level) return;
    const at::Tensor a = actual.to(at::kDouble), r = expected.detach().to(at::kDouble);
    const bool within = at::all((a - r).abs() <= tol.atol * std::max(1.0, ref_rms) + tol.rtol * r.abs()).item<bool>();
    const double ratio = e.rel_l2() / e.rel_l2_tol();
    if (e.finite() && within && ratio <= rel_l2_slack(tol_dtype)) {
      ++near_misses;
      if (ratio > tally.worst_rel_l2_ratio) {
        tally.worst_rel_l2_ratio = ratio;
        tally.worst_rel_l2 = what + " " + name;
      }
      return;
    }
    bad << "\n  " << name << ": max_abs " << e.max_abs() << " max_rel " << e.max_rel() << " rel_l2 " << e.rel_l2()
        << " finite " << e.finite();
  };
  for (size_t i = 0; i < outs.size() && i < ref_outs.size(); ++i) compare("out" + std::to_string(i), outs[i], ref_outs[i]);
  for (size_t i = 0; i < grads.size() && i < ref_grads.size(); ++i) {
    if (ill_conditioned_grad(spec, c.config, grad_names[i])) continue;
    compare(grad_names[i], grads[i], ref_grads[i]);
  }
  if (!bad.str().empty()) {
    ADD_FAILURE() << what << "\ndiffers from the float64 reference (atol " << tol.atol << ", rtol " << tol.rtol
                  << ", rel_l2 " << tol.rel_l2 << "):" << bad.str();
    return;
  }
  ++tally.compared;
  if (near_misses > 0) ++tally.rel_l2_only;
}

using Param = std::tuple<std::string, std::string>;  // device, kernel
class ShapeFuzz : public ::testing::TestWithParam<Param> {};

TEST_P(ShapeFuzz, MatchesFloat64OrRaisesAClearError) {
  const auto& [device_str, kernel] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const KernelSpec* spec = find_kernel(kernel);
  ASSERT_NE(spec, nullptr) << kernel;
  const int64_t cases = fuzz_cases(device_str);
  std::mt19937_64 rng(fuzz_seed() ^ std::hash<std::string>{}(device_str + "/" + kernel));
  Tally tally;
  for (int64_t i = 0; i < cases; ++i) {
    FuzzCase c = draw_case(*spec, to_device(device_str), rng, i);
    run_case(*spec, c, tally);
    if (::testing::Test::HasFailure() && env_u64("LIGER_FUZZ_KEEP_GOING", 0) == 0) break;
  }
  std::cout << "[fuzz] " << kernel << " on " << device_str << ": " << cases << " cases, " << tally.compared
            << " matched float64, " << tally.refused << " refused with a liger:: error, " << tally.not_built
            << " not buildable by the harness\n";
  for (const auto& [msg, n] : tally.refusals) std::cout << "[fuzz]   " << n << " x " << msg << "\n";
  if (tally.rel_l2_only > 0)
    std::cout << "[fuzz]   " << tally.rel_l2_only << " matched elementwise with rel_l2 above tolerance (ill-conditioned), worst "
              << tally.worst_rel_l2_ratio << "x: " << tally.worst_rel_l2 << "\n";
  // A fuzzer whose cases all end in errors checks nothing: a good share must reach the comparison.
  EXPECT_GE(tally.compared * 4, cases - tally.not_built)
      << kernel << ": fewer than a quarter of the runnable cases reached the comparison";
}

std::vector<Param> params() {
  std::vector<Param> out;
  for (const std::string& device : test_devices())
    for (const KernelSpec& spec : kernel_registry()) out.emplace_back(device, spec.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Kernels, ShapeFuzz, ::testing::ValuesIn(params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

}  // namespace
