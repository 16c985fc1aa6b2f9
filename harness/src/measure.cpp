#include "ligerbench/measure.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "ligerbench/device.h"

namespace ligerbench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * (sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

// The distribution-free 95% confidence interval of the median: the order statistics
// n/2 -+ 1.96 sqrt(n)/2 (the normal approximation of the binomial(n, 1/2) count of samples
// below the median). No assumption about the samples' distribution; undefined below 5 samples.
struct MedianCi {
  double median = 0, lo = 0, hi = 0;
  bool defined = false;
  // The interval's larger distance from the median, relative to the median.
  double rel() const { return defined && median > 0 ? std::max(median - lo, hi - median) / median : INFINITY; }
  // Relative half-width (Timing.noise).
  double noise() const { return defined && median > 0 ? (hi - lo) / 2 / median : INFINITY; }
};

MedianCi median_ci(const std::vector<double>& sorted) {
  MedianCi ci;
  const double n = static_cast<double>(sorted.size());
  if (n < 1) return ci;
  ci.median = percentile(sorted, 0.5);
  if (n < 5) return ci;
  const double half = 0.98 * std::sqrt(n);
  ci.lo = sorted[static_cast<std::size_t>(std::max(0.0, std::floor(n / 2 - half)))];
  ci.hi = sorted[static_cast<std::size_t>(std::min(n - 1, std::ceil(n / 2 + half)))];
  ci.defined = true;
  return ci;
}

MedianCi median_ci_of(const std::vector<double>& samples) {
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  return median_ci(sorted);
}

// Runs per batch: about 20 ms of work judged by the last sample (a full queue on a GPU without
// overshooting a bound by much), never past max_samples or the sampling time left.
int next_batch(const std::vector<double>& samples, const MeasureOptions& opt, double time_left_s) {
  if (samples.empty()) return 1;
  const double last_ms = std::max(1e-3, samples.back());
  const double budget_ms = std::min(20.0, std::max(0.0, time_left_s) * 1e3);
  const int by_time = static_cast<int>(std::clamp(budget_ms / last_ms, 1.0, 100.0));
  return std::max(1, std::min(by_time, opt.max_samples - static_cast<int>(samples.size())));
}

}  // namespace

MeasureOptions sample_budget(int warmup_runs, int min_samples, int max_samples, double timeout_s) {
  MeasureOptions opt;
  opt.warmup_runs = warmup_runs;
  opt.min_samples = min_samples;
  opt.max_samples = max_samples;
  opt.timeout_s = timeout_s;
  return opt;
}

MeasureOptions resolve_options(const v1::MeasurementOptions& m) {
  MeasureOptions o;
  if (m.has_warmup_runs()) o.warmup_runs = m.warmup_runs();
  if (m.has_warmup_s()) o.warmup_s = m.warmup_s();
  if (m.has_min_samples()) o.min_samples = m.min_samples();
  if (m.has_max_samples()) o.max_samples = m.max_samples();
  if (m.has_min_time_s()) o.min_time_s = m.min_time_s();
  // A min_time_s beyond the default max_time_s raises it: the minimum is what was asked for.
  o.max_time_s = m.has_max_time_s() ? m.max_time_s() : std::max(o.max_time_s, o.min_time_s);
  if (m.has_target_rel_ci())
    o.target_rel_ci = m.target_rel_ci();
  else if (m.has_max_noise())
    o.target_rel_ci = m.max_noise();  // the option's older name
  if (m.has_timeout_s()) o.timeout_s = m.timeout_s();
  o.clean_flush = m.has_flush() && m.flush() == "clean";
  if (m.has_hide_launch_gaps()) o.hide_launch_gaps = m.hide_launch_gaps();
  if (m.has_check_accuracy()) o.check_accuracy = m.check_accuracy();
  if (m.has_keep_samples()) o.keep_samples = m.keep_samples();
  return o;
}

bool is_timing_kind(const std::string& kind) {
  return std::any_of(std::begin(kTimingKinds), std::end(kTimingKinds), [&](const char* k) { return kind == k; });
}

std::vector<std::string> timing_kinds(const v1::CaseSweep& sweep, const v1::MeasurementOptions& m) {
  if (sweep.timing_size() > 0) return {sweep.timing().begin(), sweep.timing().end()};
  if (m.timing_size() > 0) return {m.timing().begin(), m.timing().end()};
  if (m.has_cold() && !m.cold()) return {"hot"};
  return {"cold"};
}

std::string timing_key_suffix(const std::string& kind) { return kind == "cold" ? "" : "|" + kind; }

MeasureOptions options_for_timing(MeasureOptions opt, const std::string& kind) {
  opt.cold = kind == "cold";
  return opt;
}

std::string flush_name(const MeasureOptions& opt) { return !opt.cold ? "none" : opt.clean_flush ? "clean" : "memset"; }

v1::Timing summarize(std::vector<double> samples) {
  v1::Timing t;
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  t.set_n(static_cast<int>(sorted.size()));
  if (sorted.empty()) return t;
  const MedianCi ci = median_ci(sorted);
  t.set_median_ms(ci.median);
  t.set_p20_ms(percentile(sorted, 0.2));
  t.set_p80_ms(percentile(sorted, 0.8));
  t.set_min_ms(sorted.front());
  t.set_max_ms(sorted.back());
  const double mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / sorted.size();
  double var = 0;
  for (double s : sorted) var += (s - mean) * (s - mean);
  t.set_mean_ms(mean);
  t.set_stddev_ms(sorted.size() > 1 ? std::sqrt(var / (sorted.size() - 1)) : 0.0);
  t.set_noise(std::isfinite(ci.noise()) ? ci.noise() : -1);
  t.set_rel_ci(std::isfinite(ci.rel()) ? ci.rel() : -1);
  if (ci.defined) {
    t.set_ci_low_ms(ci.lo);
    t.set_ci_high_ms(ci.hi);
  }
  const std::size_t first = samples.size() > kKeptSamples ? samples.size() - kKeptSamples : 0;
  for (std::size_t i = first; i < samples.size(); ++i) t.add_samples_ms(samples[i]);
  return t;
}

v1::Timing sample_until_stable(const SampleBatch& next, const MeasureOptions& opt, double spent_s) {
  const double max_time_s = std::min(opt.max_time_s, opt.timeout_s - spent_s);
  std::vector<double> samples;
  std::string reason;
  const auto start = Clock::now();
  // The CI is recomputed (a sort) only after the sample count grew by 1/32: the cost of the
  // rule stays O(n log n) in all, while it is checked often enough to stop within ~3% of n.
  std::size_t next_check = 0;
  auto ci_met = [&] {
    return static_cast<int>(samples.size()) >= opt.min_samples && seconds_since(start) >= opt.min_time_s &&
           median_ci_of(samples).rel() <= opt.target_rel_ci;
  };
  while (true) {
    for (double ms : next(next_batch(samples, opt, max_time_s - seconds_since(start)))) samples.push_back(ms);
    const int n = static_cast<int>(samples.size());
    const double t = seconds_since(start);
    if (samples.size() >= next_check) {
      next_check = samples.size() + std::max<std::size_t>(1, samples.size() / 32);
      if (ci_met()) {
        reason = "ci";
        break;
      }
    }
    const bool out_of_samples = n >= opt.max_samples, out_of_time = t >= max_time_s;
    if (out_of_samples || out_of_time) {
      if (ci_met())
        reason = "ci";  // met since the last check
      else if (out_of_samples)
        reason = "max_samples";
      else
        reason = opt.max_time_s <= opt.timeout_s - spent_s ? "max_time" : "timeout";
      break;
    }
  }
  v1::Timing timing = summarize(std::move(samples));
  timing.set_stop_reason(reason);
  timing.set_sampling_s(seconds_since(start));
  if (!opt.keep_samples) timing.clear_samples_ms();
  return timing;
}

double hold_ms_for(double host_ms) { return std::min(kMaxHoldMs, kHoldFactor * host_ms + kHoldMarginMs); }

v1::Timing time_region(const std::function<void()>& fn, const at::Device& device, const MeasureOptions& opt) {
  const GpuBackend* gpu = device.is_cuda() ? gpu_backend() : nullptr;
  const int dev = device.is_cuda() ? device.index() : -1;
  const auto start = Clock::now();
  // Warm-up by time: clocks ramp, caches, allocator pools and autotuners settle. Synchronised per
  // call so that the time is the device's, not the launch queue's.
  // The host's side of each call (fn returns once its work is queued) is timed too: a region
  // whose queueing takes longer than its GPU work is measured by the host unless it is held.
  int warmup_calls = 0;
  std::vector<double> host_ms;
  do {
    const auto t0 = Clock::now();
    fn();
    host_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (gpu) gpu->synchronize(dev);
    ++warmup_calls;
  } while ((warmup_calls < opt.warmup_runs || seconds_since(start) < opt.warmup_s) &&
           seconds_since(start) < opt.timeout_s);
  std::nth_element(host_ms.begin(), host_ms.begin() + host_ms.size() / 2, host_ms.end());
  const double host_median_ms = host_ms[host_ms.size() / 2];
  const double hold_ms = gpu && opt.hide_launch_gaps ? hold_ms_for(host_median_ms) : 0;
  SampleBatch batch;
  if (gpu) {
    const L2Flush flush = !opt.cold ? L2Flush::kNone : opt.clean_flush ? L2Flush::kClean : L2Flush::kMemset;
    batch = [&, flush](int runs) { return gpu->time_runs(dev, fn, runs, flush, hold_ms); };
  } else {
    batch = [&](int runs) {
      std::vector<double> ms;
      for (int i = 0; i < runs; ++i) {
        const auto t0 = Clock::now();
        fn();
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      return ms;
    };
  }
  v1::Timing timing = sample_until_stable(batch, opt, seconds_since(start));
  timing.set_clock(gpu ? "cuda_events" : "steady_clock");
  timing.set_warmup_calls(warmup_calls);
  if (gpu) {
    timing.set_host_ms(host_median_ms);
    timing.set_hold_ms(hold_ms);
  }
  return timing;
}

v1::Memory peak_memory(const std::function<void()>& fn, const at::Device& device) {
  v1::Memory m;
  const GpuBackend* gpu = device.is_cuda() ? gpu_backend() : nullptr;
  if (!gpu) return m;
  const int dev = device.index();
  gpu->synchronize(dev);
  gpu->reset_peak_memory(dev);
  const int64_t before = gpu->allocated_bytes(dev);
  fn();
  gpu->synchronize(dev);
  m.set_peak_bytes(std::max<int64_t>(0, gpu->peak_allocated_bytes(dev) - before));
  m.set_measured(true);
  return m;
}

}  // namespace ligerbench
