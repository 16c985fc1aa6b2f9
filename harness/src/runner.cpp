#include "ligerbench/runner.h"

#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "ligerbench/ceilings.h"
#include "ligerbench/device.h"
#include "ligerbench/gpu_state.h"
#include "ligerbench/key_filter.h"
#include "ligerbench/oom_fallback.h"
#include "ligerbench/record_failure.h"
#include "ligerbench/registry.h"
#include "ligerbench/timestamps.h"
#include "ligerbench/tolerance.h"
#include "ligerbench/version.h"

namespace ligerbench {
namespace {

const KernelFn& kernel_fn(const Case& c) { return c.provider == Provider::kLiger ? c.spec->liger : c.spec->baseline; }

std::vector<at::Tensor> differentiable(const std::vector<at::Tensor>& ts) {
  std::vector<at::Tensor> out;
  for (const auto& t : ts)
    if (t.defined() && t.requires_grad()) out.push_back(t);
  return out;
}

// Upstream gradients: seeded random values of each output's shape. With unit_scalar, a scalar
// output gets exactly 1: full mode is a training step, where the loss is the graph's root
// (loss.backward(), as Liger's full-mode benchmark calls it), and the gradient-in-forward losses
// then skip their rescale, as Liger's do. Backward mode and the accuracy check keep a random
// scalar (KERNELS.md), so the rescale is measured and checked there.
std::vector<at::Tensor> grad_outputs_for(const std::vector<at::Tensor>& outs, uint64_t seed, bool unit_scalar = false) {
  at::manual_seed(seed + 7919);
  std::vector<at::Tensor> g;
  for (const auto& o : outs) {
    const auto opts = o.options().requires_grad(false);
    g.push_back(unit_scalar && o.dim() == 0 ? at::ones({}, opts) : at::randn(o.sizes(), opts));
  }
  return g;
}

std::vector<at::Tensor> input_grads(const std::vector<at::Tensor>& outs, const std::vector<at::Tensor>& inputs,
                                    const std::vector<at::Tensor>& gouts, bool retain) {
  if (outs.empty() || inputs.empty()) return {};
  return torch::autograd::grad(outs, inputs, gouts, retain, false, /*allow_unused=*/true);
}

// The case's inputs from its seed. In inference mode none requires grad (detached: the same
// values and storage), as an evaluation loop hands them to the model.
KernelInputs make_seeded_inputs(const Case& c) {
  at::manual_seed(c.config.seed);
  KernelInputs in = c.spec->make_inputs(c.config);
  if (c.mode == Mode::kInference)
    for (auto& t : in.tensors)
      if (t.defined()) t = t.detach();
  return in;
}

// One forward call of the case's provider; in inference mode under c10::InferenceMode, which
// also turns gradient mode off, so no autograd graph is recorded and the ops' no-grad paths run.
std::vector<at::Tensor> call_forward(const Case& c, const KernelInputs& in) {
  if (c.mode != Mode::kInference) return kernel_fn(c)(in, c.config);
  c10::InferenceMode guard;
  return kernel_fn(c)(in, c.config);
}

// float64 copies of a case's inputs on `device`, requiring gradients where the inputs do.
KernelInputs float64_copy(const KernelInputs& in, const at::Device& device) {
  KernelInputs out;
  out.names = in.names;
  for (const auto& t : in.tensors) {
    at::Tensor r = t.detach().to(device, /*non_blocking=*/false, /*copy=*/true);
    if (at::isFloatingType(r.scalar_type())) r = r.to(at::kDouble);
    r.set_requires_grad(t.requires_grad());
    out.tensors.push_back(r);
  }
  return out;
}

at::Tensor moved(const at::Tensor& t, const at::Device& d) { return t.defined() ? t.detach().to(d) : t; }

struct Reference {
  std::vector<at::Tensor> outs, grads;  // grads: beyond forward mode, of the inputs requiring them
};

Reference run_reference(const Case& c, const KernelInputs& ref_in, const std::vector<at::Tensor>& gouts) {
  Reference r;
  r.outs = c.spec->reference(ref_in, c.config);
  if (has_backward(c.mode)) {
    std::vector<at::Tensor> dref_ins, gref;
    for (const auto& t : ref_in.tensors)
      if (t.requires_grad()) dref_ins.push_back(t);
    const at::Device device = dref_ins.empty() ? at::Device(at::kCPU) : dref_ins[0].device();
    for (const auto& g : gouts) gref.push_back(g.to(device, at::kDouble));
    r.grads = input_grads(differentiable(r.outs), dref_ins, gref, false);
  }
  for (auto& t : r.outs) t = t.detach();
  return r;
}

}  // namespace

// Errors of outputs (and, in backward and full mode, input gradients) against the float64 reference.
// The reference runs on the case's device; when that device runs out of memory for it, on the
// CPU (slower, but a large case keeps its accuracy check; Accuracy.reference_device says which).
v1::Accuracy accuracy_of(const Case& c, const AccuracyHooks& hooks) {
  v1::Accuracy acc;
  acc.set_checked(true);
  KernelInputs in = make_seeded_inputs(c);
  if (hooks.adjust_inputs) hooks.adjust_inputs(in);
  // The float64 inputs are copied before the kernel runs: some kernels overwrite theirs.
  KernelInputs ref_in =
      on_device_or_cpu(c.config.device, [&](const at::Device& d) { return float64_copy(in, d); });
  const Tolerance tol = tolerance_for(*c.spec, c.config.dtype);
  const auto outs = call_forward(c, in);
  std::vector<at::Tensor> grads, gouts;
  std::vector<std::string> names;
  if (has_backward(c.mode)) {
    std::vector<at::Tensor> dins;
    for (std::size_t i = 0; i < in.tensors.size(); ++i)
      if (in.tensors[i].requires_grad()) {
        dins.push_back(in.tensors[i]);
        names.push_back(in.names[i]);
      }
    const auto douts = differentiable(outs);
    gouts = grad_outputs_for(douts, c.config.seed);
    std::vector<at::Tensor> gouts_copy;  // in-place backwards may overwrite the upstream gradient
    for (auto& g : gouts) gouts_copy.push_back(g.clone());
    grads = input_grads(douts, dins, gouts_copy, false);
  }
  if (hooks.produced) {
    for (std::size_t i = 0; i < outs.size(); ++i) hooks.produced->emplace_back(i == 0 ? "out" : "out" + std::to_string(i), outs[i]);
    for (std::size_t i = 0; i < grads.size(); ++i) hooks.produced->emplace_back("grad_" + names[i], grads[i]);
  }
  const at::Device ref_in_device = ref_in.tensors.empty() ? at::Device(at::kCPU) : ref_in.tensors[0].device();
  const Reference ref = on_device_or_cpu(ref_in_device, [&](const at::Device& d) {
    if (d != ref_in_device) ref_in = float64_copy(ref_in, d);
    return run_reference(c, ref_in, gouts);
  });
  const at::Device ref_device = ref.outs.empty() ? at::Device(at::kCPU) : ref.outs[0].device();
  acc.set_reference_device(ref_device.str());
  bool passed = true;
  for (std::size_t i = 0; i < outs.size() && i < ref.outs.size(); ++i) {
    auto e = compare_tensors(i == 0 ? "out" : "out" + std::to_string(i), moved(outs[i], ref_device), ref.outs[i], tol);
    passed = passed && e.passed();
    *acc.add_tensors() = e;
  }
  for (std::size_t i = 0; i < grads.size() && i < ref.grads.size(); ++i) {
    auto e = compare_tensors("grad_" + names[i], moved(grads[i], ref_device), ref.grads[i], tol);
    passed = passed && e.passed();
    *acc.add_tensors() = e;
  }
  acc.set_passed(passed);
  return acc;
}

namespace {

// The measured region of a case: forward, backward of a retained graph, both, or the inference
// forward.
struct Region {
  KernelInputs in;
  std::vector<at::Tensor> dins, outs, gouts;
  std::function<void()> fn;
};

// A liger backward row of a kernel whose forward stores the gradients (KernelSpec::backward_note):
// it times only their rescale, so it gets the note instead of a speedup, ratio or throughput.
bool rescale_only_backward(const Case& c) {
  return c.mode == Mode::kBackward && c.provider == Provider::kLiger && !c.spec->backward_note.empty();
}

std::unique_ptr<Region> make_region(const Case& c) {
  auto r = std::make_unique<Region>();
  r->in = make_seeded_inputs(c);
  r->dins = differentiable(r->in.tensors);
  const KernelFn& fn = kernel_fn(c);
  Region* self = r.get();
  const CaseConfig& cfg = c.config;
  switch (c.mode) {
    case Mode::kForward:
      r->fn = [self, &fn, &cfg] { (void)fn(self->in, cfg); };
      break;
    case Mode::kBackward:
      r->outs = differentiable(fn(r->in, cfg));
      r->gouts = grad_outputs_for(r->outs, cfg.seed);
      r->fn = [self] { (void)input_grads(self->outs, self->dins, self->gouts, true); };
      break;
    case Mode::kFull:
      r->gouts = grad_outputs_for(differentiable(fn(r->in, cfg)), cfg.seed, /*unit_scalar=*/true);
      r->fn = [self, &fn, &cfg] { (void)input_grads(differentiable(fn(self->in, cfg)), self->dins, self->gouts, false); };
      break;
    case Mode::kInference:
      r->fn = [self, &c] { (void)call_forward(c, self->in); };
      break;
  }
  return r;
}

// GB/s of a copy that reads and writes `bytes` in total, measured like the case (hot or cold, the
// same flush; a graph case's copy is timed hot).
double size_matched_copy(const at::Device& device, double bytes, const MeasureOptions& case_opt) {
  static std::mutex mu;
  static std::map<std::tuple<int, int64_t, std::string>, double> cache;
  if (!device.is_cuda() || gpu_backend() == nullptr || bytes < 2) return 0;
  const int64_t half = static_cast<int64_t>(bytes / 2);
  const auto key = std::make_tuple(static_cast<int>(device.index()), half, flush_name(case_opt));
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  MeasureOptions opt = case_opt;
  opt.min_samples = 20;
  opt.timeout_s = 1;
  const auto o = at::TensorOptions().device(device).dtype(at::kByte);
  at::Tensor src = at::empty({half}, o), dst = at::empty_like(src);
  const double ms = time_region([&] { dst.copy_(src); }, device, opt).median_ms();
  return cache[key] = ms > 0 ? 2.0 * half / (ms * 1e-3) / 1e9 : 0;
}

}  // namespace

std::vector<std::string> resolve_devices(const v1::JobSpec& job, const std::vector<std::string>& requested) {
  std::vector<std::string> devs = requested;
  if (devs.empty()) devs.assign(job.devices().begin(), job.devices().end());
  const GpuBackend* gpu = gpu_backend();
  if (devs.empty()) devs.push_back(gpu ? "cuda:0" : "cpu");
  for (auto& d : devs) {
    if (d == "cpu") continue;
    if (d == "cuda") d = "cuda:0";
    if (d.rfind("cuda:", 0) != 0) throw InputError("device '" + d + "': expected cpu, cuda or cuda:N");
    if (gpu == nullptr)
      throw InputError("device '" + d + "' requested but no CUDA device is visible" +
                       std::string(at::hasCUDA() ? "" : " (this build's LibTorch has no CUDA)"));
    const int index = std::stoi(d.substr(5));
    if (index >= gpu->device_count())
      throw InputError("device '" + d + "' does not exist (" + std::to_string(gpu->device_count()) + " visible)");
  }
  return devs;
}

void check_backends(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    const auto backends = kernel_backends(*c.spec);
    const std::string want = c.config.device.is_cuda() ? "cuda" : "cpu";
    if (std::find(backends.begin(), backends.end(), want) == backends.end())
      throw InputError("kernel '" + c.spec->name + "' has no " + want + " implementation in this build");
  }
}

std::vector<v1::CaseSpec> select_case_specs(const v1::JobSpec& job, const std::vector<std::string>& devices,
                                            const std::string& filter) {
  const KeyFilter keep = compile_filter(filter);  // before expanding: a bad pattern costs nothing
  std::vector<v1::CaseSpec> all = expand_case_specs(job, devices);
  if (filter.empty()) return all;
  std::vector<v1::CaseSpec> out;
  for (auto& c : all)
    if (keep.matches(c.key())) out.push_back(std::move(c));
  return out;
}

std::vector<Case> select_cases(const v1::JobSpec& job, const std::vector<std::string>& devices, const std::string& filter) {
  std::vector<Case> out;
  const uint64_t seed = job.measurement().seed();
  for (const v1::CaseSpec& spec : select_case_specs(job, devices, filter)) out.push_back(resolve_case(spec, seed));
  return out;
}

v1::CaseResult case_identity(const Case& c) {
  v1::CaseResult r;
  *r.mutable_spec() = c.case_spec;
  return r;
}

// Why a case's timing kind cannot run on its device ("" when it can).
std::string timing_unavailable(const Case& c) {
  if (c.case_spec.timing_kind() == "graph" && (!c.config.device.is_cuda() || gpu_backend() == nullptr))
    return "timing 'graph' is not applicable on " + c.config.device.str() + ": CUDA graphs need a CUDA device";
  return "";
}

// The timed callable of a case: the region itself, or (timing graph) a replay of its CUDA graph.
// A region that cannot be captured throws, saying why (the case's error).
std::function<void()> timed_callable(const Case& c, const Region& region) {
  if (c.case_spec.timing_kind() != "graph") return region.fn;
  region.fn();  // lazy initialisation (allocator pools, autotuning) stays outside the capture
  return gpu_backend()->capture_graph(c.config.device.index(), region.fn);
}

v1::CaseResult run_case(const Case& c, const MeasureOptions& job_opt) {
  v1::CaseResult r = case_identity(c);
  const GpuBackend* gpu = gpu_backend();
  r.set_device_name(c.config.device.is_cuda() && gpu ? gpu->device_name(c.config.device.index()) : "cpu");
  const MeasureOptions opt = options_for_timing(job_opt, c.case_spec.timing_kind());
  r.set_flush(c.config.device.is_cuda() ? flush_name(opt) : "none");  // no flush on CPU
  if (const std::string why = timing_unavailable(c); !why.empty()) {
    r.set_error(why);
    return r;
  }
  // The GPU's clocks and throttle reasons before, during and after the case: a throttled case is flagged.
  const bool on_gpu = c.config.device.is_cuda() && gpu != nullptr;
  const std::string bus = on_gpu ? gpu->pci_bus_id(c.config.device.index()) : "";
  std::optional<GpuStateSampler> during;
  if (on_gpu) {
    record_gpu_before(nvml_state_source(), bus, c.config.device.index(), r);
    during.emplace(nvml_state_source(), bus, c.config.device.index(), kGpuSampleInterval, kMaxGpuSamplesDuring);
  }
  record_failure(r, [&] {
    if (opt.check_accuracy) *r.mutable_accuracy() = accuracy_of(c);
    {
      auto region = make_region(c);
      *r.mutable_timing() = time_region(timed_callable(c, *region), c.config.device, opt);
    }
    {
      auto region = make_region(c);
      region->fn();  // first call outside: lazy initialisation is not the kernel's memory
      *r.mutable_memory() = peak_memory(region->fn, c.config.device);
    }
    const bool rescale_only = rescale_only_backward(c);
    if (rescale_only) r.set_note(c.spec->backward_note);
    if (c.spec->cost && !rescale_only) {
      const Cost cost = c.spec->cost(c.config, c.mode);
      auto* tp = r.mutable_throughput();
      const double s = r.timing().median_ms() * 1e-3;
      tp->set_bytes(cost.bytes);
      tp->set_flops(cost.flops);
      if (s > 0) {
        tp->set_gb_per_s(cost.bytes / s / 1e9);
        tp->set_tflop_per_s(cost.flops / s / 1e12);
      }
      const v1::DeviceCeilings top = known_ceilings(c.config.device);
      if (top.copy_gb_per_s() > 0) tp->set_bandwidth_fraction(tp->gb_per_s() / top.copy_gb_per_s());
      if (top.matmul_tflop_per_s() > 0) tp->set_compute_fraction(tp->tflop_per_s() / top.matmul_tflop_per_s());
      const double matched = size_matched_copy(c.config.device, cost.bytes, opt);
      tp->set_size_matched_copy_gb_per_s(matched);
      if (matched > 0) tp->set_size_matched_fraction(tp->gb_per_s() / matched);
    }
    r.set_ok(true);
  });
  if (on_gpu) record_gpu_after(nvml_state_source(), bus, c.config.device.index(), r, during->stop());
  return r;
}

void PairDeriver::apply(const Case& c, v1::CaseResult& r) {
  if (!r.ok()) return;
  if (c.provider == Provider::kBaseline) {
    baselines_[c.pair_key] = r;
    return;
  }
  if (rescale_only_backward(c)) return;  // not comparable with the baseline's real backward
  auto it = baselines_.find(c.pair_key);
  if (it == baselines_.end()) return;
  if (r.timing().median_ms() > 0) r.set_speedup(it->second.timing().median_ms() / r.timing().median_ms());
  if (r.memory().measured() && it->second.memory().peak_bytes() > 0)
    r.set_memory_ratio(static_cast<double>(r.memory().peak_bytes()) / it->second.memory().peak_bytes());
}

v1::JobResult run_cases(const v1::JobSpec& job, const std::vector<Case>& cases, const RunCallbacks& cb) {
  v1::JobResult result;
  *result.mutable_spec() = job;
  result.set_started_at(now_rfc3339());
  const MeasureOptions opt = resolve_options(job.measurement());
  PairDeriver pairs;
  const int total = static_cast<int>(cases.size());
  int failed = 0;
  for (int i = 0; i < total; ++i) {
    if (cb.cancelled && cb.cancelled()) break;
    const Case& c = cases[i];
    if (cb.on_start) cb.on_start(i, total, c);
    v1::CaseResult r = run_case(c, opt);
    pairs.apply(c, r);
    if (case_failed(r)) ++failed;
    if (cb.on_result) cb.on_result(i, total, r);
    *result.add_cases() = std::move(r);
  }
  result.set_failed_cases(failed);
  result.set_finished_at(now_rfc3339());
  return result;
}

v1::NodeInfo node_info(const std::vector<std::string>& devices) {
  v1::NodeInfo n;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  n.set_hostname(host);
  n.set_ligerbench_version(kVersion);
  n.set_torch_version(TORCH_VERSION);
  const GpuBackend* gpu = gpu_backend();
  if (gpu) {
    n.set_cuda_version(gpu->runtime_version());
    n.set_driver_version(gpu->driver_version());
  }
  for (const auto& d : devices) {
    const at::Device dev(d);
    n.add_devices(dev.is_cuda() && gpu ? d + " " + gpu->device_name(dev.index()) : d);
    if (dev.is_cuda() && gpu && n.nvml().empty())
      record_gpu_identity(nvml_state_source(), gpu->pci_bus_id(dev.index()), dev.index(), n);
    const v1::DeviceCeilings& top = device_ceilings(dev);
    *n.add_ceilings() = top;
    if (dev.is_cuda() && n.copy_bandwidth_gb_per_s() == 0) {
      n.set_copy_bandwidth_gb_per_s(top.copy_gb_per_s());
      n.set_matmul_tflop_per_s(top.matmul_tflop_per_s());
    }
  }
  return n;
}

}  // namespace ligerbench
