#pragma once
// Timing and memory of one region (a callable), on CPU or one CUDA device.
#include <ATen/ATen.h>

#include <functional>

#include "ligerbench/proto.h"

namespace ligerbench {

struct MeasureOptions {
  int warmup_runs = 3;
  int min_samples = 10;
  int max_samples = 1000;
  double min_time_s = 0.05;
  double max_noise = 0.005;
  double timeout_s = 5.0;
  bool cold = false;
  bool check_accuracy = true;
  bool keep_samples = true;
};

// Options of a job with the defaults filled in.
MeasureOptions resolve_options(const v1::MeasurementOptions& m);

// Samples fn until: at least min_samples and min_time_s and the median's relative 95% CI
// half-width <= max_noise; or max_samples; or timeout_s. Records which criterion stopped it.
v1::Timing time_region(const std::function<void()>& fn, const at::Device& device, const MeasureOptions& opt);

// Peak bytes allocated by one call of fn above what was allocated before it (CUDA caching
// allocator statistics). Unmeasured (measured = false) on CPU.
v1::Memory peak_memory(const std::function<void()>& fn, const at::Device& device);

// Summary statistics of samples in ms (sorted copy); exposed for tests.
v1::Timing summarize(std::vector<double> samples_ms);

}  // namespace ligerbench
