#include "ligerbench/measure.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "ligerbench/device.h"

namespace ligerbench {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * (sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

// Relative half-width of a distribution-free 95% confidence interval of the median
// (order statistics n/2 -+ 1.96 sqrt(n)/2).
double median_noise(const std::vector<double>& sorted) {
  const double n = static_cast<double>(sorted.size());
  if (n < 5) return INFINITY;
  const double half = 0.98 * std::sqrt(n);
  const auto lo = static_cast<std::size_t>(std::max(0.0, std::floor(n / 2 - half)));
  const auto hi = static_cast<std::size_t>(std::min(n - 1, std::ceil(n / 2 + half)));
  const double med = percentile(sorted, 0.5);
  return med > 0 ? (sorted[hi] - sorted[lo]) / 2 / med : INFINITY;
}

}  // namespace

MeasureOptions resolve_options(const v1::MeasurementOptions& m) {
  MeasureOptions o;
  if (m.has_warmup_runs()) o.warmup_runs = m.warmup_runs();
  if (m.has_min_samples()) o.min_samples = m.min_samples();
  if (m.has_max_samples()) o.max_samples = m.max_samples();
  if (m.has_min_time_s()) o.min_time_s = m.min_time_s();
  if (m.has_max_noise()) o.max_noise = m.max_noise();
  if (m.has_timeout_s()) o.timeout_s = m.timeout_s();
  if (m.has_cold()) o.cold = m.cold();
  if (m.has_check_accuracy()) o.check_accuracy = m.check_accuracy();
  if (m.has_keep_samples()) o.keep_samples = m.keep_samples();
  return o;
}

v1::Timing summarize(std::vector<double> samples) {
  v1::Timing t;
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  t.set_n(static_cast<int>(sorted.size()));
  if (sorted.empty()) return t;
  t.set_median_ms(percentile(sorted, 0.5));
  t.set_p20_ms(percentile(sorted, 0.2));
  t.set_p80_ms(percentile(sorted, 0.8));
  t.set_min_ms(sorted.front());
  t.set_max_ms(sorted.back());
  const double mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / sorted.size();
  double var = 0;
  for (double s : sorted) var += (s - mean) * (s - mean);
  t.set_mean_ms(mean);
  t.set_stddev_ms(sorted.size() > 1 ? std::sqrt(var / (sorted.size() - 1)) : 0.0);
  const double noise = median_noise(sorted);
  t.set_noise(std::isfinite(noise) ? noise : -1);
  for (double s : samples) t.add_samples_ms(s);
  return t;
}

v1::Timing time_region(const std::function<void()>& fn, const at::Device& device, const MeasureOptions& opt) {
  const GpuBackend* gpu = device.is_cuda() ? gpu_backend() : nullptr;
  const int dev = device.is_cuda() ? device.index() : -1;
  for (int i = 0; i < std::max(1, opt.warmup_runs); ++i) fn();
  if (gpu) gpu->synchronize(dev);

  std::vector<double> samples;
  std::string reason;
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  while (true) {
    if (gpu) {
      // Batches sized to roughly 20 ms of work keep the queue full without overshooting.
      int batch = 1;
      if (!samples.empty()) {
        const double last = std::max(1e-3, samples.back());
        batch = static_cast<int>(std::clamp(20.0 / last, 1.0, 100.0));
      }
      batch = std::min(batch, opt.max_samples - static_cast<int>(samples.size()));
      for (double ms : gpu->time_runs(dev, fn, std::max(1, batch), opt.cold)) samples.push_back(ms);
    } else {
      const auto t0 = Clock::now();
      fn();
      samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    const int n = static_cast<int>(samples.size());
    const double t = elapsed();
    if (n >= opt.max_samples) {
      reason = "max_samples";
      break;
    }
    if (t >= opt.timeout_s) {
      reason = "timeout";
      break;
    }
    if (n >= opt.min_samples && t >= opt.min_time_s) {
      std::vector<double> sorted = samples;
      std::sort(sorted.begin(), sorted.end());
      if (median_noise(sorted) <= opt.max_noise) {
        reason = "noise";
        break;
      }
    }
  }
  v1::Timing timing = summarize(samples);
  timing.set_stop_reason(reason);
  timing.set_clock(gpu ? "cuda_events" : "steady_clock");
  if (!opt.keep_samples) timing.clear_samples_ms();
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
