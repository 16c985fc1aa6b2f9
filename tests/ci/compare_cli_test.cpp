// `ligerbench compare` and `--push-gateway` end to end: real `ligerbench run` processes on a tiny
// CPU suite, real result files, the CLI's exit codes and messages, the JUnit file against the
// schema CI readers need (ci/junit.xsd, with xmllint), the Markdown's table structure, and a real
// prometheus-pushgateway on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <exception>
#include <tuple>
#include <sstream>
#include <thread>

#include "../common/files.h"
#include "../server/http_get.h"
#include "ligerbench/report.h"
#include "ligerbench/v1/compare.pb.h"

namespace ligerbench {
namespace {

const std::string kCli = LIGERBENCH_CLI_PATH;
const std::string kDaemon = LIGERBENCHD_PATH;
const std::string kSource = LIGERBENCH_SOURCE_DIR;
const std::string kTinySuite = kSource + "/tests/ci/data/compare_tiny.yaml";

std::string dir() {
  static const std::string d = testing_files::make_temp_dir("ligerbench_compare");
  return d;
}

using testing_files::slurp;

// Runs a shell command with stdout and stderr into `log`; returns the exit status.
int sh(const std::string& cmd, const std::string& log) {
  const int rc = std::system((cmd + " >" + log + " 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// One real run of the tiny suite; the result file's path. One intra-op thread: on a 2-core
// machine shared with other jobs, a two-thread parallel_for waits for whichever thread was
// preempted, so every sample moves with the neighbours' load; one thread turns that load into
// occasional slow samples, which the median ignores.
std::string run_tiny(const std::string& name, const std::string& extra = "") {
  const std::string out = dir() + "/" + name + ".json";
  const int rc = sh("OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 " + kCli + " run " + kTinySuite + " --device cpu --quiet --out " +
                        out + " " + extra,
                    out + ".log");
  if (rc != 0) throw std::runtime_error("ligerbench run failed (" + std::to_string(rc) + "): " + slurp(out + ".log"));
  return out;
}

// Two runs of the same build, side by side: whatever else loads the machine (other builds and
// tests on a shared CI host) loads both alike, as on a dedicated GPU runner nothing does. Run one
// after the other here, the two see different neighbours, and their medians drift by far more
// than any threshold that would still catch a 20% slowdown (docs/COMPARE.md).
std::pair<std::string, std::string> run_tiny_pair(const std::string& name) {
  std::string a, b;
  std::exception_ptr failed;
  std::thread other([&] {
    try {
      b = run_tiny(name + "b");
    } catch (...) {
      failed = std::current_exception();
    }
  });
  a = run_tiny(name + "a");
  other.join();
  if (failed) std::rethrow_exception(failed);
  return {a, b};
}

v1::ComparisonReport read_report(const std::string& path) {
  v1::ComparisonReport r;
  from_json(slurp(path), &r, path);
  return r;
}

struct Compared {
  int status;
  std::string log;
  v1::ComparisonReport report;
};

// The threshold for time on this CPU: it must exceed the drift between two runs of the same
// build on the machine the runs share (a GPU runner of its own holds 5%; a 2-core CI host running
// other jobs beside the test does not), and stay below the 20% slowdown the tests plant.
const std::string kCpuThreshold = "--threshold 10%";

// Two `ligerbench run` processes of the same build on a CPU VM do not time alike: measured on
// this 2-core VM (10% of its CPU time stolen by the hypervisor), side by side, quiet: 11 of 80
// case comparisons over 10 pairs moved by 10-40%; one after the other, without address-space
// randomisation: up to 32%; beside two compiling jobs: 33 of 80, up to 62%. Each shift is a whole
// process's (its interval is narrow), so no interval from one run can see it (docs/COMPARE.md).
// The same-build tests therefore assert no false alarm at a threshold above that drift, and
// report, without asserting, what 10% would have called; the GPU runner's 5% is shown on the GPU.
const std::string kCpuDriftThreshold = "--threshold 100%";

Compared compare(const std::string& base, const std::string& cur, const std::string& name,
                 const std::string& extra = "") {
  const std::string p = dir() + "/" + name;
  Compared c;
  c.status = sh(kCli + " compare " + base + " " + cur + " " + kCpuThreshold + " --json " + p + ".report.json " + extra,
                p + ".log");
  c.log = slurp(p + ".log");
  if (c.status <= 1) c.report = read_report(p + ".report.json");
  return c;
}

int count(const v1::ComparisonReport& r, v1::Verdict v) {
  int n = 0;
  for (const auto& c : r.cases()) n += c.verdict() == v;
  return n;
}

// Rewrites one case of a result file: f(case) for the case with `key`.
template <typename F>
std::string edited(const std::string& from, const std::string& name, const std::string& key, F f) {
  v1::JobResult r = read_result_file(from);
  bool found = false;
  for (auto& c : *r.mutable_cases())
    if (c.spec().key() == key) {
      f(c);
      found = true;
    }
  if (!found) throw std::runtime_error("no case " + key + " in " + from);
  const std::string out = dir() + "/" + name + ".json";
  write_json_file(r, out);
  return out;
}

// Timing two runs against each other means nothing on a machine with more runnable work than
// cores: there neighbours, not the build, decide the medians (10 pairs measured under a load
// average of 14 on 2 cores: 7 of 80 cases moved by 13-53%). CI runs these tests alone
// (RUN_SERIAL); a developer machine busy building skips them, loudly, with the load it saw.
std::string oversubscribed() {
  double load = 0;
  std::ifstream("/proc/loadavg") >> load;
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (load <= 2.0 * static_cast<double>(cores)) return "";
  return "load average " + std::to_string(load) + " on " + std::to_string(cores) +
         " cores: run-to-run drift here is the neighbours', not compare's; run on a machine of its own";
}

// The same-build tests assert no false alarm at kCpuDriftThreshold (100%). That says something
// about compare only where the machine's own process-to-process drift stays under it, and a
// 2-core VM was measured past it, in two modes per process with narrow intervals (the figures:
// docs/COMPARE.md, the CPU drift section). Four calibration runs (two side-by-side pairs, apart from the runs under test) measure that drift
// first: a case whose medians span 1.9x or more skips the tests, loudly, naming it.
std::string drift_past_threshold() {
  static const std::string why = [] {
    std::map<std::string, std::pair<double, double>> span;  // key -> (min, max) median
    for (int i = 0; i < 2; ++i) {
      const auto [a, b] = run_tiny_pair("drift" + std::to_string(i));
      for (const auto& f : {a, b}) {
        const v1::JobResult run = read_result_file(f);
        for (const auto& c : run.cases()) {
          const double m = c.timing().median_ms();
          if (!c.ok() || m <= 0) continue;
          auto [it, fresh] = span.try_emplace(c.spec().key(), m, m);
          if (!fresh) it->second = {std::min(it->second.first, m), std::max(it->second.second, m)};
        }
      }
    }
    for (const auto& [key, mm] : span)
      if (mm.second >= 1.9 * mm.first)
        return "this machine's process-to-process drift is past the asserted threshold: " + key + " took " +
               std::to_string(mm.first) + " to " + std::to_string(mm.second) + " ms (median) in 4 calibration runs";
    return std::string();
  }();
  return why;
}

#define SKIP_IF_OVERSUBSCRIBED()                                                     \
  if (const std::string why = oversubscribed(); !why.empty()) {                    \
    GTEST_SKIP() << "false-alarm measurement not run: " << why;                    \
  }                                                                                \
  if (const std::string why = drift_past_threshold(); !why.empty()) {              \
    std::cout << "SKIPPED: false-alarm measurement not run: " << why << std::endl; \
    GTEST_SKIP() << "false-alarm measurement not run: " << why;                    \
  }

class CompareCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::tie(first_, second_) = run_tiny_pair("first");
    slow_key_ = steadiest_key(read_result_file(first_));
  }
  // The case with the narrowest spread (interquartile range over median) of the first run, so
  // that a planted change is judged against the least noise: on a shared 2-core host a case's
  // samples can split into two clusters (a neighbour on its core for part of the run), and the
  // interval of a ratio of medians then spans both, so even a 50% slowdown planted there can come
  // out noisy. Not the last case (mixed_outputs removes it) nor softmax (it plants noise there).
  static std::string steadiest_key(const v1::JobResult& run) {
    std::string best;
    double best_spread = 0;
    for (int i = 0; i + 1 < run.cases_size(); ++i) {
      const auto& c = run.cases(i);
      if (c.spec().kernel() == "softmax" || c.timing().samples_ms_size() < 4) continue;
      std::vector<double> s(c.timing().samples_ms().begin(), c.timing().samples_ms().end());
      std::sort(s.begin(), s.end());
      const double spread = (s[s.size() * 3 / 4] - s[s.size() / 4]) / s[s.size() / 2];
      if (best.empty() || spread < best_spread) best = c.spec().key(), best_spread = spread;
    }
    if (best.empty()) throw std::runtime_error("no case with raw samples in the first run");
    return best;
  }
  static std::string first_, second_;
  static std::string slow_key_;  // the case the tests plant their changes in
};
std::string CompareCli::first_, CompareCli::second_, CompareCli::slow_key_;

TEST_F(CompareCli, TwoRunsOfTheSameBuildCompareSame) {
  SKIP_IF_OVERSUBSCRIBED();
  const auto c = compare(first_, second_, "same", kCpuDriftThreshold);
  EXPECT_EQ(c.status, 0) << c.log;
  EXPECT_EQ(count(c.report, v1::VERDICT_REGRESSION), 0) << c.log;
  EXPECT_EQ(count(c.report, v1::VERDICT_MISSING), 0) << c.log;
  EXPECT_EQ(c.report.cases_size(), read_result_file(first_).cases_size());
  EXPECT_NE(c.log.find("verdict"), std::string::npos) << c.log;  // the terminal table
}

// The false-alarm rate of the method on this (shared, noisy) machine: 10 pairs of independent
// runs of the same build. Any regression or improvement is a false alarm; noisy is an honest
// "cannot tell" and is counted separately. Asserted at the drift threshold; the count at the
// 10% of the planted tests is reported (stdout and the test's XML property), not asserted.
TEST_F(CompareCli, NoFalseAlarmAcrossTenPairsOfRuns) {
  SKIP_IF_OVERSUBSCRIBED();
  int alarms = 0, noisy = 0, same = 0, alarms_at_10 = 0;
  std::string details;
  for (int i = 0; i < 10; ++i) {
    const auto [a, b] = run_tiny_pair("pair" + std::to_string(i));
    const auto c = compare(a, b, "pair" + std::to_string(i), kCpuDriftThreshold);
    ASSERT_LE(c.status, 1) << c.log;
    for (const auto& cc : c.report.cases()) {
      if (cc.verdict() == v1::VERDICT_REGRESSION || cc.verdict() == v1::VERDICT_IMPROVEMENT) {
        ++alarms;
        details += "\n  pair " + std::to_string(i) + ": " + cc.ShortDebugString();
      }
      noisy += cc.verdict() == v1::VERDICT_NOISY;
      same += cc.verdict() == v1::VERDICT_SAME;
    }
    const auto at_10 = compare(a, b, "pair" + std::to_string(i) + "_10");
    ASSERT_LE(at_10.status, 1) << at_10.log;
    alarms_at_10 += count(at_10.report, v1::VERDICT_REGRESSION) + count(at_10.report, v1::VERDICT_IMPROVEMENT);
  }
  std::cout << "compare false alarms over 10 pairs of runs: " << alarms << " at " << kCpuDriftThreshold << " (same "
            << same << ", noisy " << noisy << "); " << alarms_at_10 << " at " << kCpuThreshold
            << " (this machine's process-to-process drift)" << details << std::endl;
  RecordProperty("false_alarms", alarms);
  RecordProperty("false_alarms_at_10_percent", alarms_at_10);
  RecordProperty("noisy", noisy);
  EXPECT_EQ(alarms, 0) << details;
  EXPECT_GT(same, 0) << "no case compared as same: the comparison itself is broken";
}

// Planted in a copy of the first run, so that "only that case" does not hang on the machine's
// drift (tests/harness/compare_test.cpp plants a real slowdown between two real runs).
TEST_F(CompareCli, APlantedSlowdownIsFlaggedAndOnlyThatCase) {
  const std::string slow = edited(first_, "slow", slow_key_, [](v1::CaseResult& c) {
    for (auto& s : *c.mutable_timing()->mutable_samples_ms()) s *= 1.2;
    c.mutable_timing()->set_median_ms(c.timing().median_ms() * 1.2);
  });
  const auto c = compare(first_, slow, "slow");
  EXPECT_EQ(c.status, 1) << c.log;
  ASSERT_EQ(count(c.report, v1::VERDICT_REGRESSION), 1) << c.log;
  EXPECT_EQ(c.report.cases(0).key(), slow_key_);
  EXPECT_GT(c.report.cases(0).time().ci_low(), 1.05);
}

TEST_F(CompareCli, PlantedAccuracyFailureAndMemoryGrowthAreRegressions) {
  const std::string bad = edited(first_, "inaccurate", slow_key_, [](v1::CaseResult& c) {
    c.mutable_accuracy()->set_passed(false);
    auto* t = c.mutable_accuracy()->mutable_tensors(0);
    t->set_passed(false);
    t->set_rel_l2(0.5);
  });
  const auto a = compare(first_, bad, "inaccurate");
  EXPECT_EQ(a.status, 1) << a.log;
  ASSERT_EQ(count(a.report, v1::VERDICT_REGRESSION), 1) << a.log;
  EXPECT_EQ(a.report.cases(0).key(), slow_key_);
  EXPECT_NE(a.log.find("passed before, fails now"), std::string::npos) << a.log;

  auto with_memory = [](int64_t bytes) {
    return [bytes](v1::CaseResult& c) {
      c.mutable_memory()->set_measured(true);
      c.mutable_memory()->set_peak_bytes(bytes);
    };
  };
  const std::string base = edited(first_, "mem_base", slow_key_, with_memory(64 << 20));
  const std::string grown = edited(first_, "mem_grown", slow_key_, with_memory(72 << 20));
  const auto m = compare(base, grown, "memory");
  EXPECT_EQ(m.status, 1) << m.log;
  ASSERT_EQ(count(m.report, v1::VERDICT_REGRESSION), 1) << m.log;
  EXPECT_NEAR(m.report.cases(0).memory_ratio(), 1.125, 1e-9);
  EXPECT_EQ(compare(base, grown, "memory_loose", "--memory-threshold 20%").status, 0);
}

TEST_F(CompareCli, ACaseOnOneSideIsListedAsMissing) {
  v1::JobResult r = read_result_file(first_);
  const std::string dropped = r.cases(r.cases_size() - 1).spec().key();
  r.mutable_cases()->RemoveLast();
  const std::string fewer = dir() + "/fewer.json";
  write_json_file(r, fewer);
  const auto c = compare(first_, fewer, "missing");
  EXPECT_EQ(c.status, 0) << c.log;
  ASSERT_EQ(count(c.report, v1::VERDICT_MISSING), 1) << c.log;
  EXPECT_EQ(c.report.cases(0).key(), dropped);
  EXPECT_EQ(c.report.cases(0).side(), "baseline");
  EXPECT_NE(c.log.find("in the baseline only"), std::string::npos) << c.log;
}

TEST_F(CompareCli, BadInputExits2NamingTheFile) {
  const std::string broken = dir() + "/broken.json";
  std::ofstream(broken) << "{\"cases\": [{\"key\": \"k\", \"timing\": {\"samples_ms\": [1, 2,";
  auto c = compare(first_, broken, "broken");
  EXPECT_EQ(c.status, 2) << c.log;
  EXPECT_NE(c.log.find(broken + ": not a valid ligerbench.v1.JobResult"), std::string::npos) << c.log;

  c = compare(dir() + "/no_such.json", second_, "absent");
  EXPECT_EQ(c.status, 2) << c.log;
  EXPECT_NE(c.log.find(dir() + "/no_such.json: cannot open"), std::string::npos) << c.log;

  const std::string negative =
      edited(second_, "negative", slow_key_, [](v1::CaseResult& r) { r.mutable_timing()->set_samples_ms(0, -3); });
  c = compare(first_, negative, "negative");
  EXPECT_EQ(c.status, 2) << c.log;
  EXPECT_NE(c.log.find(negative), std::string::npos) << c.log;
  EXPECT_NE(c.log.find(slow_key_), std::string::npos) << c.log;

  c = compare(first_, second_, "bad_threshold", "--threshold lots");
  EXPECT_EQ(c.status, 2) << c.log;
  EXPECT_NE(c.log.find("--threshold 'lots'"), std::string::npos) << c.log;
}

TEST_F(CompareCli, StrictEnvTurnsAnEnvironmentMismatchIntoAnError) {
  v1::JobResult r = read_result_file(first_);
  r.mutable_node()->set_torch_version("0.0.1-other");
  const std::string other = dir() + "/other_torch.json";
  write_json_file(r, other);
  const auto loose = compare(first_, other, "env_loose");
  EXPECT_EQ(loose.status, 0) << loose.log;
  ASSERT_EQ(loose.report.environment_size(), 1);
  EXPECT_EQ(loose.report.environment(0).field(), "libtorch");
  EXPECT_NE(loose.log.find("ENVIRONMENT DIFFERS: libtorch"), std::string::npos) << loose.log;
  const auto strict = compare(first_, other, "env_strict", "--strict-env");
  EXPECT_EQ(strict.status, 2) << strict.log;
  EXPECT_NE(strict.log.find("0.0.1-other"), std::string::npos) << strict.log;
}

// A comparison with one of each verdict we can plant: regression, missing, noisy, same.
// Planted in a copy of the baseline itself, so that the counts are exact whatever the noise.
std::string mixed_outputs(const std::string& first, const std::string& slow_key) {
  v1::JobResult r = read_result_file(first);
  for (auto& c : *r.mutable_cases()) {
    if (c.spec().key() == slow_key)
      for (auto& s : *c.mutable_timing()->mutable_samples_ms()) s *= 1.5;
    if (c.spec().kernel() == "softmax" && c.spec().provider() == "liger") c.mutable_timing()->mutable_samples_ms()->Truncate(2);  // noisy
  }
  r.mutable_cases()->RemoveLast();  // missing
  const std::string cur = dir() + "/mixed.json";
  write_json_file(r, cur);
  const std::string p = dir() + "/mixed";
  sh(kCli + " compare " + first + " " + cur + " --markdown " + p + ".md --junit " + p + ".xml --json " + p + ".json",
     p + ".log");
  return p;
}

TEST_F(CompareCli, JUnitValidatesAgainstTheShippedSchema) {
  const std::string p = mixed_outputs(first_, slow_key_);
  const std::string xml = slurp(p + ".xml");
  ASSERT_FALSE(xml.empty()) << slurp(p + ".log");
  const int rc = sh("xmllint --noout --schema " + kSource + "/ci/junit.xsd " + p + ".xml", p + ".xmllint.log");
  EXPECT_EQ(rc, 0) << slurp(p + ".xmllint.log");
  const auto n = [&](const std::string& what) {
    int k = 0;
    for (std::size_t at = xml.find(what); at != std::string::npos; at = xml.find(what, at + 1)) ++k;
    return k;
  };
  // Identical samples elsewhere can still come out noisy (their interval shows their own spread),
  // so the skipped count is the report's; the planted regression and missing case are exact.
  const auto report = read_report(p + ".json");
  const int skipped = count(report, v1::VERDICT_MISSING) + count(report, v1::VERDICT_NOISY);
  EXPECT_EQ(n("<testcase "), read_result_file(first_).cases_size());
  EXPECT_EQ(n("<failure "), 1);
  EXPECT_EQ(count(report, v1::VERDICT_MISSING), 1);
  EXPECT_GE(count(report, v1::VERDICT_NOISY), 1);
  EXPECT_EQ(n("<skipped "), skipped);
  EXPECT_NE(xml.find("failures=\"1\""), std::string::npos);
  EXPECT_NE(xml.find("skipped=\"" + std::to_string(skipped) + "\""), std::string::npos);
  // A file that breaks the schema is refused: the check can fail.
  std::ofstream(p + ".bad.xml") << "<testsuites><testcase name=\"x\"/></testsuites>";
  EXPECT_NE(sh("xmllint --noout --schema " + kSource + "/ci/junit.xsd " + p + ".bad.xml", p + ".bad.log"), 0);
}

// Cells of a Markdown table row: split on pipes that are not escaped.
std::vector<std::string> md_cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cur += "|";
      ++i;
    } else if (line[i] == '|') {
      cells.push_back(cur);
      cur.clear();
    } else {
      cur += line[i];
    }
  }
  return cells;
}

TEST_F(CompareCli, MarkdownIsAHeaderThenRegressionsThenTheRestFolded) {
  const std::string p = mixed_outputs(first_, slow_key_);
  std::istringstream md(slurp(p + ".md"));
  std::vector<std::string> lines;
  for (std::string l; std::getline(md, l);) lines.push_back(l);
  ASSERT_GT(lines.size(), 10u);
  const auto report = read_report(p + ".json");
  const std::string counts = "1 regression, 1 missing, " + std::to_string(count(report, v1::VERDICT_NOISY)) +
                             " noisy, " + std::to_string(count(report, v1::VERDICT_IMPROVEMENT)) + " improvement, " +
                             std::to_string(count(report, v1::VERDICT_SAME)) + " same";
  EXPECT_EQ(lines[0], "## ligerbench compare: REGRESSION (" + counts + ")");
  // Every table: a header row, a separator row of ---, then rows with as many cells.
  int tables = 0, rows = 0;
  std::size_t regressions_at = 0, details_at = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("### Regressions", 0) == 0) regressions_at = i;
    if (lines[i].rfind("<details>", 0) == 0) details_at = i;
    if (lines[i].rfind("| verdict |", 0) != 0) continue;
    ++tables;
    const auto head = md_cells(lines[i]);
    ASSERT_LT(i + 1, lines.size());
    const auto sep = md_cells(lines[i + 1]);
    ASSERT_EQ(sep.size(), head.size()) << lines[i + 1];
    for (const auto& s : sep) EXPECT_EQ(s, "---");
    ASSERT_GT(i, 0u);
    EXPECT_TRUE(lines[i - 1].empty()) << "a table needs a blank line before it";
    for (std::size_t j = i + 2; j < lines.size() && !lines[j].empty(); ++j, ++rows)
      EXPECT_EQ(md_cells(lines[j]).size(), head.size()) << lines[j];
  }
  EXPECT_EQ(tables, 2);
  EXPECT_EQ(rows, read_result_file(first_).cases_size());
  EXPECT_GT(regressions_at, 0u);
  EXPECT_GT(details_at, regressions_at);
  EXPECT_EQ(lines.back(), "</details>");
}

// --history on a real run: a case steady in the earlier run (its median 1% off) and planted 20%
// slower now is still flagged; the history raises nothing it should not.
TEST_F(CompareCli, HistoryOfASteadyCaseKeepsAPlantedSlowdownFlagged) {
  const std::string slow = edited(first_, "hist_slow", slow_key_, [](v1::CaseResult& c) {
    for (auto& s : *c.mutable_timing()->mutable_samples_ms()) s *= 1.2;
    c.mutable_timing()->set_median_ms(c.timing().median_ms() * 1.2);
  });
  const std::string earlier = edited(first_, "hist_steady", slow_key_, [](v1::CaseResult& c) {
    c.mutable_timing()->set_median_ms(c.timing().median_ms() * 1.01);
  });
  const auto c = compare(first_, slow, "hist_steady", "--history " + earlier);
  EXPECT_EQ(c.status, 1) << c.log;
  EXPECT_EQ(c.report.history_runs(), 1) << c.log;
  ASSERT_EQ(count(c.report, v1::VERDICT_REGRESSION), 1) << c.log;
  const auto& flagged = c.report.cases(0);
  EXPECT_EQ(flagged.key(), slow_key_);
  EXPECT_NEAR(flagged.time().history_spread(), 0.01, 1e-9);
  EXPECT_DOUBLE_EQ(flagged.time().threshold(), 0.10) << "the 1% spread is under --threshold 10%";
}

// One case of tight, known samples written to a result file: the --history verdicts below hang
// on the rule alone, not on this machine's noise. The key and medians are the H100 embedding row's.
const std::string kDriftKey = "embedding|BT=2048|bf16|full|liger||cuda";

std::string steady_file(const std::string& name, double median_ms, const std::string& torch = "2.11.0") {
  v1::JobResult r;
  r.set_job_id(name);
  r.mutable_node()->set_torch_version(torch);
  auto* c = r.add_cases();
  c->mutable_spec()->set_key(kDriftKey);
  c->mutable_spec()->set_kernel("embedding");
  c->mutable_spec()->set_provider("liger");
  c->set_ok(true);
  for (int i = 0; i < 50; ++i) c->mutable_timing()->add_samples_ms(median_ms * (1 + 0.001 * (i % 5)));
  c->mutable_timing()->set_median_ms(median_ms * 1.002);
  const std::string path = dir() + "/" + name + ".json";
  write_json_file(r, path);
  return path;
}

TEST(CompareHistoryCli, AMedianThatMovedBeforeIsNotARegressionNow) {
  const std::string base = steady_file("drift_base", 0.4177), cur = steady_file("drift_cur", 0.4177 * 1.10);
  const std::string earlier = steady_file("drift_earlier", 0.4177 * 1.14);
  const auto alone = compare(base, cur, "drift_alone", "--threshold 5%");
  EXPECT_EQ(alone.status, 1) << alone.log;
  ASSERT_EQ(alone.report.cases_size(), 1) << alone.log;
  EXPECT_EQ(alone.report.cases(0).verdict(), v1::VERDICT_REGRESSION) << alone.log;

  const std::string p = dir() + "/drift_hist";
  const auto c = compare(base, cur, "drift_hist",
                         "--threshold 5% --history " + earlier + " --markdown " + p + ".md --junit " + p + ".xml");
  EXPECT_EQ(c.status, 0) << c.log;
  ASSERT_EQ(c.report.cases_size(), 1) << c.log;
  const auto& k = c.report.cases(0);
  EXPECT_EQ(k.verdict(), v1::VERDICT_SAME) << c.log;
  EXPECT_NEAR(k.time().history_spread(), 0.14, 1e-9);
  EXPECT_EQ(k.time().history_runs(), 1);
  EXPECT_EQ(c.report.history_runs(), 1);
  EXPECT_NE(c.log.find("its median moved 14.0% between the baseline and 1 earlier run: judged at 14.0%"),
            std::string::npos) << c.log;
  for (const std::string& out : {c.log, slurp(p + ".md"), slurp(p + ".xml")})
    EXPECT_NE(out.find("median spread over 1 earlier run"), std::string::npos) << out;  // JUnit escapes the apostrophe
}

TEST(CompareHistoryCli, AnEarlierRunOfAnotherEnvironmentIsIgnoredWithAWarning) {
  const std::string base = steady_file("env_base", 1.0), cur = steady_file("env_cur", 1.10);
  const std::string other = steady_file("env_other", 1.3, "2.12.0");
  const auto c = compare(base, cur, "env_hist", "--threshold 5% --history " + other);
  EXPECT_EQ(c.status, 1) << c.log;  // the other machine's 30% does not excuse this run's 10%
  EXPECT_EQ(c.report.history_runs(), 0) << c.log;
  ASSERT_EQ(c.report.warnings_size(), 1) << c.log;
  EXPECT_NE(c.log.find("WARNING: --history " + other + " ignored"), std::string::npos) << c.log;
  EXPECT_NE(c.log.find("libtorch '2.12.0'"), std::string::npos) << c.log;
}

TEST(CompareHistoryCli, AMalformedHistoryFileExits2NamingIt) {
  const std::string base = steady_file("bad_base", 1.0), cur = steady_file("bad_cur", 1.0);
  const std::string good = steady_file("bad_good", 1.0);
  const std::string broken = dir() + "/broken_history.json";
  std::ofstream(broken) << "{\"cases\": [{\"spec\": {\"key\": \"k\"}, \"timing\": {\"samples_ms\": [1,";
  auto c = compare(base, cur, "hist_broken", "--history " + good + " --history " + broken);
  EXPECT_EQ(c.status, 2) << c.log;
  EXPECT_NE(c.log.find(broken + ": not a valid ligerbench.v1.JobResult"), std::string::npos) << c.log;

  // Valid JSON that compare must still refuse: validated like the baseline.
  v1::JobResult negative = read_result_file(good);
  negative.mutable_cases(0)->mutable_timing()->set_samples_ms(0, -1);
  const std::string neg = dir() + "/negative_history.json";
  write_json_file(negative, neg);
  c = compare(base, cur, "hist_negative", "--history " + neg);
  EXPECT_EQ(c.status, 2) << c.log;
  EXPECT_NE(c.log.find(neg + ": cases[0] (" + kDriftKey + ")"), std::string::npos) << c.log;

  c = compare(base, cur, "hist_absent", "--history " + dir() + "/no_such_history.json");
  EXPECT_EQ(c.status, 2) << c.log;
  EXPECT_NE(c.log.find(dir() + "/no_such_history.json: cannot open"), std::string::npos) << c.log;
}

TEST(CompareHistoryCli, MoreThanTwentyHistoryFilesIsAClearError) {
  const std::string base = steady_file("many_base", 1.0), cur = steady_file("many_cur", 1.0);
  std::string twenty;
  for (int i = 0; i < 20; ++i) twenty += " --history " + steady_file("many_" + std::to_string(i), 1.0);
  const auto ok = compare(base, cur, "hist_twenty", twenty);
  EXPECT_EQ(ok.status, 0) << ok.log;
  EXPECT_EQ(ok.report.history_runs(), 20) << ok.log;
  const auto c = compare(base, cur, "hist_21", twenty + " --history " + base);
  EXPECT_EQ(c.status, 2) << c.log;
  EXPECT_NE(c.log.find("--history given 21 times, at most 20 earlier runs"), std::string::npos) << c.log;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Debian's prometheus-pushgateway on a loopback port, for the length of one test.
class Pushgateway {
 public:
  Pushgateway() : port_(free_port()) {
    pid_ = fork();
    if (pid_ == 0) {
      const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      const std::string log = dir() + "/pushgateway.log";
      freopen(log.c_str(), "w", stderr);
      execlp("prometheus-pushgateway", "prometheus-pushgateway", listen.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && !ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~Pushgateway() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  bool ready() const { return testing::http_get(port_, "/-/ready").find(" 200 ") != std::string::npos; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string metrics() const { return testing::http_get(port_, "/metrics"); }

 private:
  int port_;
  pid_t pid_;
};

// The series of `name` whose label set holds every `label="value"` pair.
bool has_series(const std::string& metrics, const std::string& name, const std::vector<std::string>& labels) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (all) return true;
  }
  return false;
}

TEST(Pushgateway, RunAndComparePushTheirSeriesWithOurLabels) {
  Pushgateway gw;
  ASSERT_TRUE(gw.ready()) << slurp(dir() + "/pushgateway.log");
  const std::string a = run_tiny("pushed", "--push-gateway " + gw.url() + " --push-instance ci-test");
  const std::string m = gw.metrics();
  const v1::JobResult pushed = read_result_file(a);
  for (const auto& c : pushed.cases()) {
    const std::vector<std::string> labels = {
        "instance=\"ci-test\"", "job=\"ligerbench_nightly\"", "kernel=\"" + c.spec().kernel() + "\"",
        "provider=\"" + c.spec().provider() + "\"", "mode=\"" + c.spec().mode() + "\"", "dtype=\"" + c.spec().dtype() + "\"",
        "shape=\"" + c.spec().shape_label() + "\"", "device=\"cpu\"", "version=\""};
    EXPECT_TRUE(has_series(m, "ligerbench_kernel_latency_seconds", labels)) << c.spec().key() << "\n" << m;
    EXPECT_TRUE(has_series(m, "ligerbench_kernel_rel_error", labels)) << c.spec().key();
    if (c.speedup() > 0) EXPECT_TRUE(has_series(m, "ligerbench_kernel_speedup_ratio", labels)) << c.spec().key();
  }
  // compare adds its series to the same group and leaves the run's in place.
  const auto c = compare(a, a, "pushed_compare", "--push-gateway " + gw.url() + " --push-instance ci-test");
  ASSERT_EQ(c.status, 0) << c.log;
  const std::string after = gw.metrics();
  for (const char* v : {"regression", "missing", "noisy", "improvement", "same"})
    EXPECT_TRUE(has_series(after, "ligerbench_compare_cases",
                           {"verdict=\"" + std::string(v) + "\"", "job=\"ligerbench_nightly\""}))
        << after;
  const auto& c0 = pushed.cases(0);
  EXPECT_TRUE(has_series(after, "ligerbench_compare_ratio",
                         {"kernel=\"" + c0.spec().kernel() + "\"", "shape=\"" + c0.spec().shape_label() + "\"",
                          "provider=\"" + c0.spec().provider() + "\"", "verdict=\"", "instance=\"ci-test\""}))
      << after;
  EXPECT_TRUE(has_series(after, "ligerbench_kernel_latency_seconds", {"instance=\"ci-test\""}));
  // A bad URL is refused before any work, naming it.
  const std::string log = dir() + "/bad_push.log";
  EXPECT_EQ(sh(kCli + " run " + kTinySuite + " --device cpu --push-gateway ftp://x:1", log), 2);
  EXPECT_NE(slurp(log).find("--push-gateway 'ftp://x:1'"), std::string::npos) << slurp(log);
}

// A ligerbenchd process on a loopback port with its own database, for the length of one test.
class Daemon {
 public:
  Daemon() {
    log_ = dir() + "/ligerbenchd.log";
    pid_ = fork();
    if (pid_ == 0) {
      freopen(log_.c_str(), "w", stdout);
      freopen(log_.c_str(), "a", stderr);
      const std::string db = dir() + "/jobs.db";
      execl(kDaemon.c_str(), kDaemon.c_str(), "--listen", "127.0.0.1:0", "--metrics-listen", "off", "--db", db.c_str(),
            "--devices", "cpu", static_cast<char*>(nullptr));
      _exit(127);
    }
    // Its first line names the port: "... BenchService on 127.0.0.1:PORT ...".
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::string out = slurp(log_);
      const auto at = out.find("BenchService on ");
      if (at == std::string::npos) continue;
      const auto colon = out.find(':', at + 16);
      if (colon != std::string::npos) port_ = std::atoi(out.c_str() + colon + 1);
    }
  }
  ~Daemon() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::string log() const { return slurp(log_); }

 private:
  std::string log_;
  pid_t pid_ = 0;
  int port_ = 0;
};

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(CompareServer, SubmitWaitPushesAndCompareReadsJobsAndLabels) {
  Pushgateway gw;
  ASSERT_TRUE(gw.ready());
  Daemon d;
  ASSERT_GT(d.port(), 0) << d.log();
  const std::string submit = "OMP_NUM_THREADS=1 " + kCli + " submit " + kTinySuite + " --server " + d.address() +
                             " --wait --quiet --out ";
  // stdout (the job id first) and stderr apart: the id is the file's first line.
  const std::string s1 = dir() + "/submitted1";
  ASSERT_EQ(std::system((submit + s1 + ".json --push-gateway " + gw.url() + " --push-instance served >" + s1 +
                         ".out 2>" + s1 + ".err")
                            .c_str()),
            0)
      << slurp(s1 + ".err") << d.log();
  const std::string id1 = first_line(s1 + ".out");
  EXPECT_TRUE(has_series(gw.metrics(), "ligerbench_kernel_latency_seconds",
                         {"instance=\"served\"", "job=\"ligerbench_nightly\"", "kernel=\"rms_norm\""}))
      << gw.metrics();
  const std::string s2 = dir() + "/submitted2";
  ASSERT_EQ(std::system((submit + s2 + ".json >" + s2 + ".out 2>" + s2 + ".err").c_str()), 0) << slurp(s2 + ".err");
  const std::string id2 = first_line(s2 + ".out");
  ASSERT_FALSE(id1.empty());
  ASSERT_NE(id1, id2);

  // Two stored jobs by id (the verdicts depend on the machine; the sources and cases do not).
  auto by_id = compare(id1, id2, "by_id", "--server " + d.address());
  ASSERT_LE(by_id.status, 1) << by_id.log;
  EXPECT_EQ(by_id.report.baseline_job_id(), id1);
  EXPECT_EQ(by_id.report.current_job_id(), id2);
  EXPECT_EQ(by_id.report.cases_size(), read_result_file(s1 + ".json").cases_size());
  EXPECT_EQ(count(by_id.report, v1::VERDICT_MISSING), 0) << by_id.log;

  // The newest finished job labelled suite=compare-tiny is the second; CURRENT is a local file.
  auto labelled = compare("", s1 + ".json", "by_label", "--server " + d.address() + " --baseline-label suite=compare-tiny");
  ASSERT_LE(labelled.status, 1) << labelled.log;
  EXPECT_EQ(labelled.report.baseline_job_id(), id2);
  EXPECT_EQ(labelled.report.current(), s1 + ".json");

  auto none = compare("", s1 + ".json", "no_label", "--server " + d.address() + " --baseline-label suite=nope");
  EXPECT_EQ(none.status, 2) << none.log;
  EXPECT_NE(none.log.find("no finished job with that label"), std::string::npos) << none.log;

  auto unreachable = compare(id1, id2, "unreachable", "--server 127.0.0.1:1");
  EXPECT_EQ(unreachable.status, 3) << unreachable.log;
}

}  // namespace
}  // namespace ligerbench
