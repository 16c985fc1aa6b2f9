// The data-parallel training step (docs/DISTRIBUTED.md): the same seeded Llama-style decoder
// built from the liger operators and from the baselines, trained one after the other on this
// rank's seeded batches with AdamW, gradients averaged across ranks in buckets during backward
// (grad_buckets.h). Both builds' loss curves must agree within loss_tolerance, and after the
// last step every rank's parameters must equal rank 0's bit for bit (the all-reduce really ran).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "src/distributed/grad_buckets.h"
#include "src/distributed/llama_model.h"
#include "src/distributed/rank_work.h"
#include "ligerbench/device.h"
#include "ligerbench/kernel_spec.h"
#include "ligerbench/measure.h"

namespace ligerbench::dist {
namespace {

constexpr int kDefaultSteps = 5;
constexpr int kDefaultWarmupSteps = 1;
constexpr double kDefaultLr = 1e-3;
constexpr double kDefaultBucketMb = 25;
constexpr double kPerturbedLrFactor = 10;

struct Settings {
  v1::TrainingModel model;
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  uint64_t seed = 0;
  int rank = 0;
  int steps = kDefaultSteps;
  int warmup = kDefaultWarmupSteps;
  double lr = kDefaultLr;
  double tolerance = 0;
  int64_t bucket_bytes = 0;
  bool keep_own_gradients = false;  // skip_reduce_rank
  bool perturb_baseline_lr = false;  // perturb_rank
};

double default_loss_tolerance(at::ScalarType t) { return t == at::kFloat ? 1e-4 : 1e-2; }

Settings settings_of(const v1::RankTask& task) {
  const auto& o = task.options();
  Settings s;
  s.model = with_defaults(o.model());
  const auto dtype = parse_dtype(task.case_spec().dtype());
  if (!dtype) throw std::runtime_error("training_step: bad dtype");
  s.dtype = *dtype;
  s.device = at::Device(task.device());
  s.seed = task.seed();
  s.rank = task.rank();
  s.steps = o.has_steps() ? o.steps() : kDefaultSteps;
  s.warmup = o.has_warmup_steps() ? o.warmup_steps() : std::min(kDefaultWarmupSteps, s.steps - 1);
  s.lr = o.has_lr() ? o.lr() : kDefaultLr;
  s.tolerance = o.has_loss_tolerance() ? o.loss_tolerance() : default_loss_tolerance(s.dtype);
  s.bucket_bytes = static_cast<int64_t>((o.has_bucket_mb() ? o.bucket_mb() : kDefaultBucketMb) * (1 << 20));
  s.keep_own_gradients = o.has_skip_reduce_rank() && o.skip_reduce_rank() == task.rank();
  s.perturb_baseline_lr = o.has_perturb_rank() && o.perturb_rank() == task.rank();
  return s;
}

void synchronize(const at::Device& device) {
  if (device.is_cuda())
    if (const GpuBackend* gpu = gpu_backend()) gpu->synchronize(device.index());
}

// This rank's dense matmul rate in the case's dtype: the ceiling MFU divides by.
std::pair<double, std::string> matmul_ceiling(const at::Device& device, at::ScalarType dtype) {
  const int64_t n = device.is_cuda() ? 8192 : 512;
  const auto o = at::TensorOptions().device(device).dtype(dtype);
  const at::Tensor a = at::randn({n, n}, o), b = at::randn({n, n}, o);
  at::Tensor out = at::empty({n, n}, o);
  MeasureOptions opt = sample_budget(/*warmup_runs=*/2, /*min_samples=*/5, /*max_samples=*/50, /*timeout_s=*/1);
  opt.target_rel_ci = 0.05;
  const double ms = time_region([&] { at::mm_out(out, a, b); }, device, opt).median_ms();
  std::ostringstream how;
  how << "at::mm " << n << "x" << n << "x" << n << " " << dtype_name(dtype) << " on " << device;
  if (!device.is_cuda()) how << " with " << at::get_num_threads() << " threads";
  return {ms > 0 ? 2.0 * n * n * n / (ms * 1e-3) / 1e12 : 0, how.str()};
}

// This rank's batch of a step: (batch, seq + 1) tokens from a CPU generator seeded by the
// case's seed, the rank and the step, the same for both builds.
at::Tensor batch_tokens(const Settings& s, int step) {
  const uint64_t seed = s.seed + 1000003ull * static_cast<uint64_t>(s.rank + 1) + static_cast<uint64_t>(step);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randint(0, s.model.vocab(), {s.model.batch(), s.model.seq() + 1}, gen, at::TensorOptions().dtype(at::kLong))
      .to(s.device);
}

// A bitwise checksum per parameter: the sum of its elements' bit patterns as integers.
at::Tensor bit_sums(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> sums;
  for (const auto& p : params) {
    const at::Tensor c = p.detach().contiguous();
    const at::ScalarType bits = c.element_size() == 8 ? at::kLong : c.element_size() == 4 ? at::kInt : at::kShort;
    sums.push_back(c.view(bits).sum(at::kLong));
  }
  return at::stack(sums);
}

// The gradient buckets' dtype: the model's, but float32 for bf16 over Gloo (LibTorch 1.13's
// ProcessGroupGloo has no bf16 all-reduce).
at::ScalarType reduce_dtype(const Settings& s) {
  return s.device.is_cpu() && s.dtype == at::kBFloat16 ? at::kFloat : s.dtype;
}

struct BuildRun {
  v1::TrainingBuild result;
  at::Tensor checksums;  // bit_sums of the parameters after the last step
  std::vector<std::string> names;
  int buckets = 0;
};

BuildRun train(Build build, const Settings& s, Group& group) {
  const GpuBackend* gpu = s.device.is_cuda() ? gpu_backend() : nullptr;
  if (gpu) {
    gpu->synchronize(s.device.index());
    gpu->empty_cache();
    gpu->reset_peak_memory(s.device.index());
  }
  BuildRun run;
  v1::TrainingBuild& r = run.result;
  r.set_build(build_name(build));
  {
    LlamaDecoder model(s.model, build, s.dtype, s.device, s.seed);
    std::vector<at::Tensor> params;
    for (const auto& [name, p] : model.parameters()) {
      params.push_back(p);
      run.names.push_back(name);
    }
    GradBuckets sync(params, run.names, group, s.bucket_bytes, reduce_dtype(s), s.keep_own_gradients);
    run.buckets = sync.buckets();
    const double lr = s.lr * (build == Build::kBaseline && s.perturb_baseline_lr ? kPerturbedLrFactor : 1.0);
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(lr));
    for (int step = 0; step < s.steps; ++step) {
      const at::Tensor tokens = batch_tokens(s, step);
      synchronize(s.device);
      const auto t0 = std::chrono::steady_clock::now();
      sync.start_step();
      const at::Tensor loss = model.loss(tokens);
      loss.backward();
      sync.finish_step();
      opt.step();
      const double value = loss.item<double>();
      synchronize(s.device);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      r.add_losses(value);
      if (step >= s.warmup) r.add_step_ms(ms);
    }
    run.checksums = bit_sums(params);
  }
  if (gpu) {
    r.set_peak_memory_bytes(gpu->peak_allocated_bytes(s.device.index()));
    r.set_memory_measured(true);
  }
  return run;
}

// "" when every rank's checksums equal rank 0's, else which rank differs and where.
std::string compare_across_ranks(Group& group, const BuildRun& run, const std::string& device, int steps) {
  std::vector<at::Tensor> in{run.checksums};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int k = 0; k < group.getSize(); ++k) out[0].push_back(at::empty_like(run.checksums));
  wait_for(group.allgather(out, in), device);
  const at::Tensor base = out[0][0].cpu();
  for (int k = 1; k < group.getSize(); ++k) {
    const at::Tensor other = out[0][k].cpu();
    const at::Tensor ne = other.ne(base);
    const int64_t differ = ne.sum().item<int64_t>();
    if (differ == 0) continue;
    const int64_t first = ne.nonzero()[0][0].item<int64_t>();
    std::ostringstream os;
    os << "the " << run.result.build() << " build's parameters differ across ranks after " << steps << " steps: rank "
       << k << " differs from rank 0 in " << differ << " of " << base.numel() << " tensors (first: "
       << run.names[static_cast<std::size_t>(first)] << ")";
    return os.str();
  }
  return "";
}

void fill_speed(v1::TrainingBuild& b, const v1::TrainingStepResult& t) {
  const v1::Timing timing = summarize({b.step_ms().begin(), b.step_ms().end()});
  b.set_step_ms_median(timing.median_ms());
  if (timing.median_ms() <= 0) return;
  const double seconds = timing.median_ms() * 1e-3;
  b.set_tokens_per_s(static_cast<double>(t.tokens_per_step()) / seconds);
  if (t.matmul_tflop_per_s() > 0) b.set_mfu(t.flops_per_step() / seconds / (t.matmul_tflop_per_s() * 1e12));
}

}  // namespace

v1::CaseResult run_training_step(const v1::RankTask& task, Group& group, const std::function<void()>& debug_point) {
  const Settings s = settings_of(task);
  v1::TrainingStepResult t;
  t.set_parameters(parameter_count(s.model));
  t.set_tokens_per_step(s.model.batch() * s.model.seq());
  t.set_flops_per_step(flops_per_step(s.model));
  const auto [tflops, how] = matmul_ceiling(s.device, s.dtype);
  t.set_matmul_tflop_per_s(tflops);
  t.set_matmul_ceiling(how);
  t.set_loss_tolerance(s.tolerance);
  debug_point();

  BuildRun liger = train(Build::kLiger, s, group);
  BuildRun baseline = train(Build::kBaseline, s, group);
  t.set_buckets(liger.buckets);
  std::ostringstream sync;
  sync << liger.buckets << " bucket(s) of at most " << s.bucket_bytes << " bytes of gradients ("
       << dtype_name(reduce_dtype(s)) << " buffers), each all-reduced (sum, then / "
       << group.getSize() << ") asynchronously from parameter hooks as soon as its gradients are in, overlapping the "
       << "rest of backward; waited for before AdamW";
  t.set_grad_sync(sync.str());

  std::vector<std::string> errors;
  for (int i = 0; i < s.steps; ++i) {
    const double a = liger.result.losses(i), b = baseline.result.losses(i);
    const double rel = std::abs(a - b) / std::max(std::abs(b), 1e-30);
    if (!(rel <= t.max_loss_rel_diff()) || i == 0) {
      t.set_max_loss_rel_diff(std::isfinite(rel) ? rel : INFINITY);
      t.set_max_loss_rel_diff_step(i);
    }
    if (errors.empty() && !(rel <= s.tolerance)) {
      std::ostringstream os;
      os.precision(8);
      os << "rank " << s.rank << ", step " << i << ": liger loss " << a << " and baseline loss " << b << " differ by "
         << std::setprecision(3) << rel << " relative (loss_tolerance " << s.tolerance << ")";
      errors.push_back(os.str());
    }
  }
  // Every rank reaches the same cross-rank verdict; rank 0 alone reports it (the case's error
  // then says it once).
  bool equal = true;
  for (const BuildRun* run : {&liger, &baseline})
    if (std::string e = compare_across_ranks(group, *run, task.device(), s.steps); !e.empty()) {
      if (s.rank == 0) errors.push_back(e);
      equal = false;
    }
  t.set_parameters_equal_across_ranks(equal);
  *t.mutable_liger() = liger.result;
  *t.mutable_baseline() = baseline.result;
  fill_speed(*t.mutable_liger(), t);
  fill_speed(*t.mutable_baseline(), t);

  v1::CaseResult r;
  *r.mutable_timing() = summarize({t.liger().step_ms().begin(), t.liger().step_ms().end()});
  r.mutable_timing()->set_clock("steady_clock");
  r.mutable_timing()->set_stop_reason("steps");
  r.mutable_memory()->set_peak_bytes(t.liger().peak_memory_bytes());
  r.mutable_memory()->set_measured(t.liger().memory_measured());
  r.mutable_throughput()->set_flops(t.flops_per_step());
  if (r.timing().median_ms() > 0) r.mutable_throughput()->set_tflop_per_s(t.flops_per_step() / (r.timing().median_ms() * 1e9));
  r.mutable_throughput()->set_compute_fraction(t.liger().mfu());
  if (t.liger().step_ms_median() > 0) r.set_speedup(t.baseline().step_ms_median() / t.liger().step_ms_median());
  if (t.baseline().peak_memory_bytes() > 0)
    r.set_memory_ratio(static_cast<double>(t.liger().peak_memory_bytes()) / t.baseline().peak_memory_bytes());
  std::ostringstream note;
  note.precision(4);
  for (const auto* b : {&t.liger(), &t.baseline()}) {
    note << b->build() << " " << b->tokens_per_s() << " tokens/s, MFU " << 100 * b->mfu() << "%";
    if (b->memory_measured()) note << ", peak " << b->peak_memory_bytes() / 1048576.0 << " MiB";
    note << "; ";
  }
  note << "loss curves' max relative difference " << t.max_loss_rel_diff() << " (step " << t.max_loss_rel_diff_step()
       << ")";
  r.set_note(note.str());
  *r.mutable_distributed()->mutable_training() = t;
  r.set_ok(errors.empty());
  std::string error;
  for (const auto& e : errors) error += (error.empty() ? "" : "; ") + e;
  r.set_error(error);
  return r;
}

}  // namespace ligerbench::dist
