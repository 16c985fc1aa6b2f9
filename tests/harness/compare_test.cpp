// compare: the statistics against known values, and verdicts on real runs of the harness (a spin
// kernel registered here gives a real, planted slowdown), plus planted accuracy, memory and
// missing cases. The CLI, its files and exit codes: tests/ci/compare_cli_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <sstream>

#include "ligerbench/compare.h"
#include "ligerbench/registry.h"
#include "ligerbench/runner.h"
#include "ligerbench/suite.h"

namespace ligerbench {
namespace {

TEST(CompareStats, MannWhitneyMatchesTheNormalApproximation) {
  // Complete separation of 5 vs 5: U = 0, mu = 12.5, sigma^2 = 25 * 11 / 12; with continuity
  // correction z = 12 / 4.787, two-sided p = 0.01219 (scipy.stats.mannwhitneyu, asymptotic).
  EXPECT_NEAR(mann_whitney_p({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}), 0.01219, 2e-4);
  EXPECT_NEAR(mann_whitney_p({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}), 0.01219, 2e-4);
  // Interleaved: no evidence.
  EXPECT_GT(mann_whitney_p({1, 3, 5, 7, 9}, {2, 4, 6, 8, 10}), 0.5);
  // Every value tied: no variance, p = 1.
  EXPECT_EQ(mann_whitney_p({2, 2, 2}, {2, 2, 2, 2}), 1.0);
  EXPECT_EQ(mann_whitney_p({}, {1, 2}), 1.0);
}

TEST(CompareStats, BootstrapIsSeededAndCoversTheTrueRatio) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> noise(0, 0.05);
  std::vector<double> base, cur;
  for (int i = 0; i < 200; ++i) base.push_back(1.0 * noise(rng));
  for (int i = 0; i < 200; ++i) cur.push_back(1.3 * noise(rng));
  const auto a = bootstrap_median_ratio(base, cur, 2000, 0.95, 42);
  const auto b = bootstrap_median_ratio(base, cur, 2000, 0.95, 42);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  EXPECT_NEAR(a.ratio, median_of(cur) / median_of(base), 1e-12);
  EXPECT_LT(a.low, 1.3);
  EXPECT_GT(a.high, 1.3);
  EXPECT_GT(a.low, 1.2);  // 200 samples of 5% noise: a tight interval
  EXPECT_LT(a.high, 1.4);
  EXPECT_THROW(bootstrap_median_ratio({}, cur, 2000, 0.95, 1), std::invalid_argument);
  EXPECT_THROW(bootstrap_median_ratio(base, cur, 10, 0.95, 1), std::invalid_argument);
}

// A kernel that spins for a set wall time: the time the harness measures is the one set here,
// so a second run can be made slower for one case and nothing else.
std::map<std::string, int> g_spin_us;  // "N|provider" -> microseconds

std::vector<at::Tensor> spin(const KernelInputs& in, const CaseConfig& c, const char* provider) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::microseconds(g_spin_us[std::to_string(c.axis("N")) + "|" + provider]);
  while (std::chrono::steady_clock::now() < until) {
  }
  return {in.tensors[0].clone()};
}

void register_spin_kernel() {
  if (find_kernel("compare_test_spin")) return;
  KernelSpec s;
  s.name = "compare_test_spin";
  s.category = "test";
  s.description = "spins for a time the test sets";
  s.axes = {{"N", 16, "elements"}};
  s.dtypes = {"fp32"};
  s.default_dtype = "fp32";
  s.modes = {Mode::kForward};
  s.make_inputs = [](const CaseConfig& c) {
    KernelInputs in;
    in.tensors.push_back(at::randn({c.axis("N")}));
    in.names.push_back("input");
    return in;
  };
  s.liger = [](const KernelInputs& in, const CaseConfig& c) { return spin(in, c, "liger"); };
  s.baseline = [](const KernelInputs& in, const CaseConfig& c) { return spin(in, c, "baseline"); };
  s.reference = [](const KernelInputs& in, const CaseConfig&) { return std::vector<at::Tensor>{in.tensors[0].clone()}; };
  register_kernel(std::move(s));
}

v1::JobResult run_spin_suite() {
  const v1::JobSpec job = parse_suite(R"(
name: compare-spin
measurement: {warmup_runs: 2, min_samples: 20, max_samples: 200, min_time_s: 0.01, max_noise: 0.01, timeout_s: 0.3}
cases:
  - kernel: compare_test_spin
    shape: {N: [16, 17, 18, 19]}
)", "compare-spin.yaml");
  const auto cases = select_cases(job, {"cpu"}, "");
  return run_cases(job, cases, {});
}

const std::string kSlowKey = "compare_test_spin|N=18|fp32|forward|liger||cpu";

class CompareRuns : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    register_spin_kernel();
    for (int n : {16, 17, 18, 19})
      for (const char* p : {"liger", "baseline"}) g_spin_us[std::to_string(n) + "|" + p] = 400;
    baseline_ = new v1::JobResult(run_spin_suite());
    g_spin_us["18|liger"] = 480;  // the planted 20% slowdown
    slower_ = new v1::JobResult(run_spin_suite());
    g_spin_us["18|liger"] = 400;
  }
  static void TearDownTestSuite() {
    delete baseline_;
    delete slower_;
  }
  static v1::ComparisonReport compare(const v1::JobResult& cur) {
    return compare_results(*baseline_, cur, CompareOptions{}, "baseline", "current");
  }
  static const v1::CaseComparison& find(const v1::ComparisonReport& r, const std::string& key) {
    for (const auto& c : r.cases())
      if (c.key() == key) return c;
    throw std::runtime_error("no case " + key);
  }
  static v1::JobResult* baseline_;
  static v1::JobResult* slower_;
};
v1::JobResult* CompareRuns::baseline_ = nullptr;
v1::JobResult* CompareRuns::slower_ = nullptr;

TEST_F(CompareRuns, TheRunsAreReal) {
  ASSERT_EQ(baseline_->cases_size(), 8);
  for (const auto& c : baseline_->cases()) {
    EXPECT_TRUE(c.ok()) << c.spec().key() << ": " << c.error();
    EXPECT_GE(c.timing().samples_ms_size(), 20) << c.spec().key();
    EXPECT_GT(c.timing().median_ms(), 0.39) << c.spec().key();
  }
  EXPECT_NO_THROW(check_result_for_compare(*baseline_, "baseline"));
}

TEST_F(CompareRuns, ARealTwentyPercentSlowdownIsFlaggedAndNothingElse) {
  const auto r = compare(*slower_);
  EXPECT_EQ(verdict_count(r, v1::VERDICT_REGRESSION), 1);
  ASSERT_GT(r.cases_size(), 0);
  const auto& first = r.cases(0);  // sorted by severity
  EXPECT_EQ(first.key(), kSlowKey);
  EXPECT_EQ(first.verdict(), v1::VERDICT_REGRESSION);
  EXPECT_GT(first.time().ci_low(), 1.05);
  EXPECT_NEAR(first.time().ratio(), 1.2, 0.05);
  EXPECT_LT(first.time().mann_whitney_p(), 0.01);
  for (const auto& c : r.cases())
    if (c.key() != kSlowKey) EXPECT_NE(c.verdict(), v1::VERDICT_REGRESSION) << c.ShortDebugString();
}

TEST_F(CompareRuns, EditedSamplesTwentyPercentSlowerAreFlagged) {
  v1::JobResult cur = *baseline_;
  const std::string key = "compare_test_spin|N=16|fp32|forward|baseline||cpu";
  for (auto& c : *cur.mutable_cases())
    if (c.spec().key() == key)
      for (auto& s : *c.mutable_timing()->mutable_samples_ms()) s *= 1.2;
  const auto r = compare(cur);
  EXPECT_EQ(verdict_count(r, v1::VERDICT_REGRESSION), 1);
  EXPECT_EQ(find(r, key).verdict(), v1::VERDICT_REGRESSION);
  // The same samples against themselves: every case the same, ratio exactly 1.
  const auto same = compare(*baseline_);
  EXPECT_EQ(verdict_count(same, v1::VERDICT_SAME), 8);
  for (const auto& c : same.cases()) EXPECT_DOUBLE_EQ(c.time().ratio(), 1.0);
}

TEST_F(CompareRuns, AnAccuracyFailureIsARegressionWhateverTheTime) {
  v1::JobResult cur = *baseline_;
  const std::string key = "compare_test_spin|N=17|fp32|forward|liger||cpu";
  for (auto& c : *cur.mutable_cases()) {
    if (c.spec().key() != key) continue;
    ASSERT_TRUE(c.accuracy().checked());
    ASSERT_GT(c.accuracy().tensors_size(), 0);
    auto* t = c.mutable_accuracy()->mutable_tensors(0);
    t->set_rel_l2(t->rel_l2_tol() * 10 + 1e-3);
    t->set_passed(false);
    c.mutable_accuracy()->set_passed(false);
  }
  const auto r = compare(cur);
  EXPECT_EQ(verdict_count(r, v1::VERDICT_REGRESSION), 1);
  const auto& c = find(r, key);
  EXPECT_EQ(c.verdict(), v1::VERDICT_REGRESSION);
  EXPECT_TRUE(c.baseline_accuracy_passed());
  EXPECT_FALSE(c.current_accuracy_passed());
  ASSERT_GT(c.reasons_size(), 0);
  EXPECT_NE(c.reasons(0).find("passed before, fails now"), std::string::npos) << c.reasons(0);

  // Failing on both sides and no worse: reported, not counted again; grown past 10%: counted.
  v1::JobResult worse = cur;
  for (auto& w : *worse.mutable_cases())
    if (w.spec().key() == key) w.mutable_accuracy()->mutable_tensors(0)->set_rel_l2(w.accuracy().tensors(0).rel_l2() * 2);
  const auto known = compare_results(cur, cur, CompareOptions{}, "a", "b");
  EXPECT_EQ(find(known, key).verdict(), v1::VERDICT_SAME);
  const auto grown = compare_results(cur, worse, CompareOptions{}, "a", "b");
  EXPECT_EQ(find(grown, key).verdict(), v1::VERDICT_REGRESSION);
}

TEST_F(CompareRuns, PeakMemoryGrowthPastTheThresholdIsARegression) {
  // CPU runs measure no memory: plant measured peaks on both sides, then 8% growth on one case
  // and 3% on another (under the 5% threshold).
  v1::JobResult base = *baseline_, cur = *baseline_;
  for (auto* r : {&base, &cur})
    for (auto& c : *r->mutable_cases()) {
      c.mutable_memory()->set_measured(true);
      c.mutable_memory()->set_peak_bytes(100 << 20);
    }
  const std::string grew = "compare_test_spin|N=19|fp32|forward|liger||cpu";
  const std::string little = "compare_test_spin|N=19|fp32|forward|baseline||cpu";
  for (auto& c : *cur.mutable_cases()) {
    if (c.spec().key() == grew) c.mutable_memory()->set_peak_bytes(108 << 20);
    if (c.spec().key() == little) c.mutable_memory()->set_peak_bytes(103 << 20);
  }
  const auto r = compare_results(base, cur, CompareOptions{}, "a", "b");
  EXPECT_EQ(verdict_count(r, v1::VERDICT_REGRESSION), 1);
  EXPECT_EQ(find(r, grew).verdict(), v1::VERDICT_REGRESSION);
  EXPECT_NEAR(find(r, grew).memory_ratio(), 1.08, 1e-9);
  EXPECT_NE(find(r, little).verdict(), v1::VERDICT_REGRESSION);
  CompareOptions strict;
  strict.memory_threshold = 0.02;
  EXPECT_EQ(find(compare_results(base, cur, strict, "a", "b"), little).verdict(), v1::VERDICT_REGRESSION);
}

TEST_F(CompareRuns, ACaseOnOneSideOnlyIsMissing) {
  v1::JobResult cur = *baseline_;
  cur.mutable_cases()->erase(cur.mutable_cases()->begin());  // gone from the current run
  const std::string dropped = baseline_->cases(0).spec().key();
  auto* added = cur.add_cases();
  *added = baseline_->cases(1);
  added->mutable_spec()->set_key("compare_test_spin|N=99|fp32|forward|liger||cpu");
  const auto r = compare(cur);
  EXPECT_EQ(verdict_count(r, v1::VERDICT_MISSING), 2);
  EXPECT_EQ(verdict_count(r, v1::VERDICT_REGRESSION), 0);
  EXPECT_EQ(find(r, dropped).side(), "baseline");
  EXPECT_EQ(find(r, added->spec().key()).side(), "current");
  EXPECT_EQ(r.cases(0).verdict(), v1::VERDICT_MISSING);  // missing sorts right after regressions
}

TEST(CompareVerdicts, AWideIntervalIsNoisyNotForcedIntoAVerdict) {
  // 8 samples spread over 2x on each side: the interval holds 1.0 and 1.05.
  v1::JobResult base, cur;
  for (auto* r : {&base, &cur}) {
    auto* c = r->add_cases();
    c->mutable_spec()->set_key("k");
    c->set_ok(true);
    for (double v : {1.0, 1.9, 1.2, 1.7, 1.4, 1.1, 2.0, 1.5}) c->mutable_timing()->add_samples_ms(v);
    c->mutable_timing()->set_median_ms(1.45);
  }
  std::reverse(cur.mutable_cases(0)->mutable_timing()->mutable_samples_ms()->begin(),
               cur.mutable_cases(0)->mutable_timing()->mutable_samples_ms()->end());
  cur.mutable_cases(0)->mutable_timing()->set_samples_ms(0, 1.3);
  const auto r = compare_results(base, cur, CompareOptions{}, "a", "b");
  EXPECT_EQ(r.cases(0).verdict(), v1::VERDICT_NOISY) << r.cases(0).ShortDebugString();
  // Too few samples: noisy too, with the reason.
  cur.mutable_cases(0)->mutable_timing()->mutable_samples_ms()->Truncate(3);
  const auto few = compare_results(base, cur, CompareOptions{}, "a", "b");
  EXPECT_EQ(few.cases(0).verdict(), v1::VERDICT_NOISY);
  EXPECT_NE(few.cases(0).reasons(0).find("too few raw samples"), std::string::npos);
}

// Drift that one run's interval cannot see: a clock-limited side and a change of a few
// microseconds are judged at a raised threshold, and the case says why.
TEST(CompareVerdicts, ThrottledAndTinyCasesAreJudgedAtRaisedThresholds) {
  auto job = [](double median_ms, bool throttled) {
    v1::JobResult r;
    auto* c = r.add_cases();
    c->mutable_spec()->set_key("k");
    c->set_ok(true);
    c->set_throttled(throttled);
    for (int i = 0; i < 50; ++i) c->mutable_timing()->add_samples_ms(median_ms * (1 + 0.001 * (i % 5)));
    c->mutable_timing()->set_median_ms(median_ms * 1.002);
    return r;
  };
  CompareOptions opt;
  // Past the plain threshold but within the clock-limited one: same only when a side throttled.
  EXPECT_EQ(compare_results(job(1.0, false), job(1.07, false), opt, "a", "b").cases(0).verdict(), v1::VERDICT_REGRESSION);
  const auto throttled = compare_results(job(1.0, false), job(1.07, true), opt, "a", "b").cases(0);
  EXPECT_EQ(throttled.verdict(), v1::VERDICT_SAME) << throttled.ShortDebugString();
  EXPECT_DOUBLE_EQ(throttled.time().threshold(), 0.10);
  EXPECT_NE(throttled.reasons(0).find("clock-limited on the current side: judged at 10%"), std::string::npos)
      << throttled.reasons(0);
  EXPECT_EQ(compare_results(job(1.0, true), job(1.2, true), opt, "a", "b").cases(0).verdict(), v1::VERDICT_REGRESSION)
      << "past the raised threshold still counts";
  // A change under the floor is within the threshold whatever its ratio; one past it still counts.
  const auto tiny = compare_results(job(0.010, false), job(0.0115, false), opt, "a", "b").cases(0);
  EXPECT_EQ(tiny.verdict(), v1::VERDICT_SAME) << tiny.ShortDebugString();
  EXPECT_NEAR(tiny.time().threshold(), 0.2, 1e-3);
  EXPECT_NE(tiny.reasons(0).find("a change under 2 us does not count"), std::string::npos) << tiny.reasons(0);
  EXPECT_EQ(compare_results(job(0.010, false), job(0.0125, false), opt, "a", "b").cases(0).verdict(),
            v1::VERDICT_REGRESSION);
  opt.time_floor_ms = 0;
  EXPECT_EQ(compare_results(job(0.010, false), job(0.0115, false), opt, "a", "b").cases(0).verdict(),
            v1::VERDICT_REGRESSION)
      << "--time-floor-ms 0 turns the floor off";
}

// Earlier runs (--history) show drift between processes that no within-run interval sees.
v1::JobResult steady_job(double median_ms, const std::string& torch = "2.11.0") {
  v1::JobResult r;
  r.mutable_node()->set_torch_version(torch);
  auto* c = r.add_cases();
  c->mutable_spec()->set_key("k");
  c->set_ok(true);
  for (int i = 0; i < 50; ++i) c->mutable_timing()->add_samples_ms(median_ms * (1 + 0.001 * (i % 5)));
  c->mutable_timing()->set_median_ms(median_ms * 1.002);
  return r;
}

TEST(CompareHistory, ACaseThatMovedBeforeIsJudgedAtItsSpread) {
  const auto base = steady_job(1.0), cur = steady_job(1.10);
  CompareOptions opt;
  const auto alone = compare_results(base, cur, opt, "a", "b");
  EXPECT_EQ(alone.cases(0).verdict(), v1::VERDICT_REGRESSION) << alone.cases(0).ShortDebugString();
  EXPECT_EQ(alone.history_runs(), 0);
  EXPECT_EQ(alone.cases(0).time().history_runs(), 0);

  // One earlier run of the same build had the case 14% slower than the baseline, one 3% faster.
  opt.history = history_spread(base, {steady_job(1.14), steady_job(0.97)}, {"h1.json", "h2.json"});
  EXPECT_EQ(opt.history.runs, 2);
  EXPECT_TRUE(opt.history.warnings.empty());
  ASSERT_EQ(opt.history.cases.count("k"), 1u);
  EXPECT_NEAR(opt.history.cases.at("k").spread, 0.14, 1e-9);  // the max, not the last or the mean
  EXPECT_EQ(opt.history.cases.at("k").runs, 2);
  const auto r = compare_results(base, cur, opt, "a", "b");
  const auto& c = r.cases(0);
  EXPECT_EQ(c.verdict(), v1::VERDICT_SAME) << c.ShortDebugString();
  EXPECT_NEAR(c.time().threshold(), 0.14, 1e-9);
  EXPECT_NEAR(c.time().history_spread(), 0.14, 1e-9);
  EXPECT_EQ(c.time().history_runs(), 2);
  EXPECT_EQ(r.history_runs(), 2);
  ASSERT_GT(c.reasons_size(), 0);
  EXPECT_EQ(c.reasons(0), "its median moved 14.0% between the baseline and 2 earlier runs: judged at 14.0%");
  // The terminal summary says the history was used.
  std::ostringstream os;
  print_comparison(os, r);
  EXPECT_NE(os.str().find("raised to a case's median spread over 2 earlier runs"), std::string::npos) << os.str();
}

TEST(CompareHistory, ASteadyCaseSlowedDownIsStillARegression) {
  const auto base = steady_job(1.0);
  CompareOptions opt;
  opt.history = history_spread(base, {steady_job(1.01), steady_job(0.99), steady_job(1.0)}, {"a", "b", "c"});
  EXPECT_EQ(opt.history.runs, 3);
  EXPECT_NEAR(opt.history.cases.at("k").spread, 0.01, 1e-9);
  const auto r = compare_results(base, steady_job(1.2), opt, "a", "b");
  const auto& c = r.cases(0);
  EXPECT_EQ(c.verdict(), v1::VERDICT_REGRESSION) << c.ShortDebugString();
  EXPECT_DOUBLE_EQ(c.time().threshold(), 0.05) << "a spread under the threshold leaves it as it was";
  EXPECT_NEAR(c.time().history_spread(), 0.01, 1e-9);
  for (const auto& why : c.reasons()) EXPECT_EQ(why.find("earlier run"), std::string::npos) << why;
}

TEST(CompareHistory, AnotherEnvironmentOrACaseWithoutTimeIsLeftOut) {
  const auto base = steady_job(1.0);
  auto failed = steady_job(5.0);  // errored: its time says nothing
  failed.mutable_cases(0)->set_ok(false);
  auto untimed = steady_job(1.0);
  untimed.mutable_cases(0)->mutable_timing()->set_median_ms(0);
  CompareOptions opt;
  opt.history = history_spread(base, {steady_job(1.3, "2.12.0"), failed, untimed}, {"other.json", "f.json", "u.json"});
  EXPECT_EQ(opt.history.runs, 2);
  EXPECT_TRUE(opt.history.cases.empty()) << "no run used holds a timed case k";
  ASSERT_EQ(opt.history.warnings.size(), 1u);
  EXPECT_NE(opt.history.warnings[0].find("other.json ignored"), std::string::npos) << opt.history.warnings[0];
  EXPECT_NE(opt.history.warnings[0].find("libtorch '2.12.0'"), std::string::npos) << opt.history.warnings[0];
  const auto r = compare_results(base, steady_job(1.10), opt, "a", "b");
  EXPECT_EQ(r.cases(0).verdict(), v1::VERDICT_REGRESSION) << r.cases(0).ShortDebugString();
  ASSERT_EQ(r.warnings_size(), 1);
  EXPECT_EQ(r.warnings(0), opt.history.warnings[0]);
  EXPECT_NE(comparison_markdown(r).find("> **Warning**: --history other.json ignored"), std::string::npos);
  EXPECT_NE(comparison_junit(r).find("name=\"warning.1\""), std::string::npos);
}

TEST(CompareVerdicts, ErrorsAndEnvironment) {
  v1::JobResult base, cur;
  for (auto* r : {&base, &cur}) {
    auto* c = r->add_cases();
    c->mutable_spec()->set_key("k");
    c->set_ok(true);
    c->set_device_name("NVIDIA H200");
    r->mutable_node()->set_torch_version("2.11.0");
    r->mutable_node()->set_cuda_version("13.0");
  }
  cur.mutable_cases(0)->set_ok(false);
  cur.mutable_cases(0)->set_error("CUDA error: out of memory");
  cur.mutable_node()->set_torch_version("2.12.0");
  const auto r = compare_results(base, cur, CompareOptions{}, "a", "b");
  EXPECT_EQ(r.cases(0).verdict(), v1::VERDICT_REGRESSION);
  EXPECT_NE(r.cases(0).reasons(0).find("errors now"), std::string::npos);
  ASSERT_EQ(r.environment_size(), 1);
  EXPECT_EQ(r.environment(0).field(), "libtorch");
  EXPECT_EQ(r.environment(0).baseline(), "2.11.0");
  EXPECT_EQ(r.environment(0).current(), "2.12.0");
}

TEST(CompareVerdicts, BadResultsAreRefusedNamingTheCase) {
  v1::JobResult r;
  auto* c = r.add_cases();
  c->mutable_spec()->set_key("k1");
  c->mutable_timing()->add_samples_ms(-1);
  try {
    check_result_for_compare(r, "cur.json");
    FAIL() << "a negative sample was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cur.json: cases[0] (k1)"), std::string::npos) << e.what();
  }
  c->mutable_timing()->set_samples_ms(0, 1);
  *r.add_cases() = *c;
  EXPECT_THROW(check_result_for_compare(r, "cur.json"), InputError);  // k1 twice
}

}  // namespace
}  // namespace ligerbench
