#pragma once
// Timing and memory of one region (a callable), on CPU or one CUDA device.
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "ligerbench/proto.h"

namespace ligerbench {

struct MeasureOptions {
  int warmup_runs = 3;         // warm-up calls at least ...
  double warmup_s = 0.025;     // ... and at least this long (triton do_bench's 25 ms)
  int min_samples = 10;
  int max_samples = 1000;
  double min_time_s = 0.05;
  double max_time_s = 2.0;     // sampling stops here even if the CI target is not met
  double target_rel_ci = 0.01; // the median's 95% CI within this fraction of the median
  double timeout_s = 5.0;      // hard bound on one timing, warm-up included
  bool cold = false;           // flush L2 before each sample (the case's timing kind says)
  bool clean_flush = false;    // flush by reading a buffer twice the L2 size, not a memset
  bool hide_launch_gaps = false;  // CUDA: hold the GPU while the host queues each sample (docs/MEASUREMENT.md)
  bool check_accuracy = true;
  bool keep_samples = true;
};

// The hold ahead of a sample: its host time x kHoldFactor + kHoldMarginMs, at most kMaxHoldMs.
constexpr double kHoldFactor = 1.5;
constexpr double kHoldMarginMs = 0.02;
constexpr double kMaxHoldMs = 50;
double hold_ms_for(double host_ms);

// Samples a result keeps (the last ones); Timing.n counts all.
constexpr int kKeptSamples = 1000;

// The defaults but for a timing's budget: `warmup_runs` calls, then min_samples to max_samples
// samples, within timeout_s. For short timings of our own (a rank's matmul ceiling) and tests.
MeasureOptions sample_budget(int warmup_runs, int min_samples, int max_samples, double timeout_s);

// Options of a job with the defaults filled in.
MeasureOptions resolve_options(const v1::MeasurementOptions& m);

// Timing kinds: how a case's region is timed; each is a case of its own.
inline constexpr const char* kTimingKinds[] = {"hot", "cold", "graph"};
bool is_timing_kind(const std::string& kind);
// A sweep's timing kinds: its own `timing`, else the job's, else [hot] for the older
// `cold: false`, else [cold] (Liger's do_bench flushes L2 before every sample).
std::vector<std::string> timing_kinds(const v1::CaseSweep& sweep, const v1::MeasurementOptions& m);
// What a case key ends with: "" for cold (so keys of cold runs read as before), "|hot", "|graph".
std::string timing_key_suffix(const std::string& kind);
// The options of one case of timing kind `kind`; and the flush it used: memset, clean or none.
MeasureOptions options_for_timing(MeasureOptions opt, const std::string& kind);
std::string flush_name(const MeasureOptions& opt);

// A source of samples: makes `runs` (>= 1) timed runs and returns each one's time in ms.
using SampleBatch = std::function<std::vector<double>(int runs)>;

// The stopping rule over any sample source (no warm-up): samples in batches until, after at
// least min_samples and min_time_s, the median's 95% CI is within target_rel_ci of the median
// (stop_reason "ci"); or max_samples ("max_samples"), max_time_s of sampling ("max_time"), or
// timeout_s including the `spent_s` seconds already used ("timeout"). Fills the statistics,
// the interval, stop_reason and sampling_s.
v1::Timing sample_until_stable(const SampleBatch& next, const MeasureOptions& opt, double spent_s = 0);

// Warms fn up (warmup_runs calls and warmup_s, whichever is longer, within timeout_s), then
// samples it by sample_until_stable: CUDA events on a CUDA device, steady_clock on CPU. On CUDA
// the warm-up also times the host's side of one call (Timing.host_ms); with hide_launch_gaps
// each sample is held behind a spin of kHoldFactor x that (Timing.hold_ms, at most kMaxHoldMs).
v1::Timing time_region(const std::function<void()>& fn, const at::Device& device, const MeasureOptions& opt);

// Peak bytes allocated by one call of fn above what was allocated before it (CUDA caching
// allocator statistics). Unmeasured (measured = false) on CPU.
v1::Memory peak_memory(const std::function<void()>& fn, const at::Device& device);

// Summary statistics of samples in ms (sorted copy), the median's CI included; exposed for tests.
v1::Timing summarize(std::vector<double> samples_ms);

}  // namespace ligerbench
