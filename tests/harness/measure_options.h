#pragma once
// Measurement options for the harness tests, which time a case to check it rather than to judge
// its speed.
#include "ligerbench/measure.h"

namespace ligerbench::testing {

// Exactly `samples` samples, no warm-up and no minimum time; the timeout still bounds a hung case.
inline MeasureOptions exact_samples(int samples) {
  MeasureOptions opt;
  opt.warmup_runs = 0;
  opt.warmup_s = 0;
  opt.min_samples = samples;
  opt.max_samples = samples;
  opt.min_time_s = 0;
  opt.timeout_s = 5;
  return opt;
}

}  // namespace ligerbench::testing
