#pragma once
// Regression statistics between two runs (`ligerbench compare`): per case key, the ratio of
// median times with a bootstrap interval and a Mann-Whitney U test on the raw samples, accuracy
// and peak-memory checks, and the environment each run measured in. Method: docs/COMPARE.md.
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "ligerbench/proto.h"
#include "ligerbench/v1/compare.pb.h"

namespace ligerbench {

// What earlier runs of the same build line (--history) say about each case: how far its median
// moved between processes. No within-run interval sees that drift (docs/COMPARE.md).
struct CaseSpread {
  double spread = 0;  // max |median_i / median_baseline - 1| over the runs holding the key
  int runs = 0;       // history runs that held the key with a time
};
struct HistorySpread {
  std::map<std::string, CaseSpread> cases;  // by case key
  int runs = 0;                             // history runs used
  std::vector<std::string> warnings;        // one per run ignored, naming it and why
};

// At most this many --history runs: each is a whole result file held in memory.
inline constexpr int kMaxHistoryRuns = 20;

struct CompareOptions {
  double threshold = 0.05;          // time change that counts: the whole interval must be past it
  double memory_threshold = 0.05;   // peak-memory growth that counts
  // Run-to-run drift that one run's interval cannot see (docs/COMPARE.md, measured on the H200):
  // a case clock-limited (CaseResult.throttled) on either side is judged at throttled_threshold,
  // and a change of the medians below time_floor_ms never counts.
  double throttled_threshold = 0.10;
  double time_floor_ms = 0.002;
  // Growth below this many bytes never counts: allocator rounding and workspace choices move
  // small peaks without meaning anything for a training step.
  int64_t memory_floor_bytes = 1 << 20;
  double confidence = 0.95;         // of the bootstrap interval
  double alpha = 0.01;              // Mann-Whitney significance a time verdict also needs
  int bootstrap_resamples = 2000;
  uint64_t seed = 1;                // with the case key, seeds each case's bootstrap (deterministic)
  int min_samples = 5;              // fewer raw samples on either side: noisy
  HistorySpread history;            // empty without --history: case_threshold ignores it
};

// The threshold case b -> cur is judged at, and why it is not opt.threshold ("" when it is):
// raised for a clock-limited side, for a tiny case, and to the case's opt.history spread.
double case_threshold(const v1::CaseResult& b, const v1::CaseResult& cur, const CompareOptions& opt, std::string* why);

// Percentile bootstrap of median(current) / median(baseline): each side resampled on its own.
struct RatioInterval {
  double ratio = 0;  // of the full samples' medians
  double low = 0;
  double high = 0;
};
RatioInterval bootstrap_median_ratio(const std::vector<double>& baseline, const std::vector<double>& current,
                                     int resamples, double confidence, uint64_t seed);

// Two-sided p-value of the Mann-Whitney U test (normal approximation with tie correction and
// continuity correction). 1 when either side is empty or every value is tied.
double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b);

double median_of(std::vector<double> v);

// Most raw samples a case may carry into a comparison (the bootstrap costs resamples x samples).
inline constexpr int kMaxCompareSamples = 100000;

// Checks what compare relies on: each case has a key, no key twice, samples finite, >= 0 and at
// most kMaxCompareSamples. Throws InputError naming `name` (the file or job) and the case key.
void check_result_for_compare(const v1::JobResult& r, const std::string& name);

// The per-key spread of `runs` (named by `names`) around `baseline`. A run whose environment
// differs from the baseline's (GPU, driver, CUDA, LibTorch: what compare reports between baseline
// and current) is not the same build line: it is left out, with a warning.
HistorySpread history_spread(const v1::JobResult& baseline, const std::vector<v1::JobResult>& runs,
                             const std::vector<std::string>& names);

// Compares every case key of the two results. Cases sorted by severity (regression, missing,
// noisy, improvement, same), then by key. `baseline_name` / `current_name` say where each came from.
v1::ComparisonReport compare_results(const v1::JobResult& baseline, const v1::JobResult& current,
                                     const CompareOptions& opt, const std::string& baseline_name,
                                     const std::string& current_name);

// "regression", "missing", "noisy", "improvement", "same".
std::string verdict_name(v1::Verdict v);
int verdict_count(const v1::ComparisonReport& r, v1::Verdict v);

// Outputs (compare_output.cpp): a terminal table by severity; Markdown for CI job summaries (a
// header line with the counts, the regressions, the rest folded in <details>); JUnit XML with one
// testcase per case (failure: regression; skipped: missing or noisy).
void print_comparison(std::ostream& os, const v1::ComparisonReport& r);
std::string comparison_markdown(const v1::ComparisonReport& r);
std::string comparison_junit(const v1::ComparisonReport& r);

}  // namespace ligerbench
