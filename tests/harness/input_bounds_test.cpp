// Hostile and careless suites (issue 12): patterns, case counts, YAML size/depth/aliases, numeric
// ranges and the error each gets. Every refusal must be an InputError naming the file (and the
// line and key where there is one), and must come quickly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>

#include "input_error.h"
#include "ligerbench/key_filter.h"
#include "ligerbench/report.h"
#include "ligerbench/runner.h"
#include "ligerbench/suite.h"

namespace {

using namespace ligerbench;
using Clock = std::chrono::steady_clock;
using ligerbench::testing::error_of;
using ligerbench::testing::input_error_of;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// --- item 1: patterns --------------------------------------------------------------------------

TEST(KeyFilter, CatastrophicBacktrackingPatternIsLinear) {
  // std::regex never returned on this pattern against a key of this length (the server hung).
  const KeyFilter f("(.*)*Q");
  ASSERT_TRUE(f.ok()) << f.error();
  const std::string key = "rms_norm|T=1024,H=4096|bf16|forward|liger|casting_mode=llama,eps=1e-6,offset=0.0|" + std::string(400, 'x');
  const auto t0 = Clock::now();
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(f.matches(key));
  EXPECT_TRUE(f.matches(key + "Q"));
  EXPECT_LT(seconds_since(t0), 2.0);
}

TEST(KeyFilter, SearchesUnanchoredAndEmptyMatchesAll) {
  EXPECT_TRUE(KeyFilter("").matches("anything"));
  EXPECT_TRUE(KeyFilter("rms_norm").matches("x|rms_norm|y"));
  EXPECT_TRUE(KeyFilter("^rms_norm\\|").matches("rms_norm|T=1"));
  EXPECT_FALSE(KeyFilter("^rms_norm\\|").matches("fused_rms_norm|T=1"));
}

TEST(KeyFilter, BadAndOverlongPatternsAreRefusedNamingFilter) {
  const KeyFilter bad("(");
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(bad.matches("("));
  EXPECT_NE(bad.error().find("not a valid RE2 regular expression"), std::string::npos) << bad.error();
  {
    const std::string err = input_error_of([&] { compile_filter("("); });
    ASSERT_NE(err, "") << "no error";
    EXPECT_EQ(err.rfind("filter '(': not a valid RE2 regular expression", 0), 0u) << err;
  }
  // Backreferences are not RE2: a clear error, not a silent non-match.
  EXPECT_FALSE(KeyFilter("(a)\\1").ok());
  const std::string longest(kMaxFilterLength, 'a');
  EXPECT_TRUE(KeyFilter(longest).ok());
  {
    const std::string err = input_error_of([&] { compile_filter(longest + "a"); });
    ASSERT_NE(err, "") << "no error";
    EXPECT_NE(err.find("longer than 1024 characters"), std::string::npos) << err;
    EXPECT_LT(err.size(), 300u) << "the message quotes a truncated pattern";
  }
}

TEST(KeyFilter, SelectCasesRefusesABadFilterBeforeExpanding) {
  const auto job = parse_suite("cases:\n  - {kernel: rms_norm, shape: {T: [8, 16], H: 32}}\n", "s.yaml");
  EXPECT_EQ(select_cases(job, {"cpu"}, "T=16").size(), job_case_count(job, 1) / 2);
  EXPECT_THROW(select_cases(job, {"cpu"}, "(.*"), InputError);
}

// --- item 2: case counts, file size, aliases -------------------------------------------------

TEST(CaseCount, MatchesExpansionWithDefaults) {
  const auto job = parse_suite(R"(cases:
  - {kernel: rms_norm, shape: {T: [8, 16, 32], H: 32}, dtypes: [fp32, bf16]}
  - {kernel: rope, shape: {T: 8, B: 1, HQ: 2, HKV: 1, D: 8}, modes: [forward], providers: [liger]}
)", "s.yaml");
  for (const std::vector<std::string>& devices : {std::vector<std::string>{"cpu"}, {"cpu", "cpu"}})
    EXPECT_EQ(job_case_count(job, devices.size()), expand_cases(job, devices).size());
}

TEST(CaseCount, FourAxesOf65536ValuesSaturatesInsteadOfWrapping) {
  // The issue's 0.5 MB rope suite: 2^64 cases, whose plain product wraps to 0.
  // rope's head size must be even, so D repeats 2 where the other axes repeat 1.
  std::string values = "1", even_values = "2";
  for (int i = 1; i < 65536; ++i) values += ",1", even_values += ",2";
  const std::string yaml = "cases:\n  - kernel: rope\n    shape: {T: [" + values + "], HQ: [" + values + "], HKV: [" +
                           values + "], D: [" + even_values + "]}\n";
  ASSERT_GT(yaml.size(), 500000u);
  const auto t0 = Clock::now();
  const auto job = parse_suite(yaml, "rope.yaml");
  EXPECT_EQ(sweep_case_count(job.cases(0), 1), UINT64_MAX);
  EXPECT_EQ(job_case_count(job, 1), UINT64_MAX);
  {
    const std::string err = input_error_of([&] { check_case_count(job, 1, 100000, "rope.yaml", ""); });
    ASSERT_NE(err, "") << "no error";
    EXPECT_NE(err.find("rope.yaml: the job expands to 2^64 or more cases, more than the 100000"),
              std::string::npos)
        << err;
  }
  EXPECT_THROW(expand_cases(job, {"cpu"}), InputError) << "expansion itself refuses past kMaxCasesPerJob";
  EXPECT_LT(seconds_since(t0), 10.0);
}

TEST(CaseCount, AliasBombSuiteIsRefusedQuicklyNamingTheFile) {
  const std::string path = std::string(LIGERBENCH_SOURCE_DIR) + "/tests/harness/data/alias_bomb.yaml";
  const auto t0 = Clock::now();
  const auto job = load_suite(path);  // valid YAML and a valid spec: only its size is wrong
  EXPECT_EQ(job_case_count(job, 1), 2000000u);
  {
    const std::string err = input_error_of([&] { check_case_count(job, 1, 100000, path, "--max-cases raises it"); });
    ASSERT_NE(err, "") << "no error";
    EXPECT_EQ(err,
              path + ": the job expands to 2000000 cases, more than the 100000 allowed (--max-cases raises it)");
  }
  // A caller's limit is clamped to the hard maximum.
  EXPECT_THROW(check_case_count(job, 1, UINT64_MAX, path, ""), InputError);
  EXPECT_LT(seconds_since(t0), 5.0);
}

TEST(YamlBounds, AliasExpansionIsBoundedBeforeConversion) {
  // "Billion laughs": 9 levels of 10 aliases each, 10^9 nodes from a few hundred bytes.
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  const auto t0 = Clock::now();
  const std::string err = error_of(yaml);
  EXPECT_NE(err.find("suite.yaml:"), std::string::npos) << err;
  EXPECT_NE(err.find("expands (through YAML aliases) to more than 1000000 nodes"), std::string::npos) << err;
  EXPECT_LT(seconds_since(t0), 2.0);
}

TEST(YamlBounds, FileSizeIsBounded) {
  const std::string big = "name: x\n# " + std::string(kMaxYamlFileBytes, 'x') + "\n";
  EXPECT_NE(error_of(big).find("suite.yaml: " + std::to_string(big.size()) + " bytes, more than the 1048576"),
            std::string::npos);
  const std::string path = ::testing::TempDir() + "/big_suite.yaml";
  std::ofstream(path) << big;
  {
    const std::string err = input_error_of([&] { load_suite(path); });
    ASSERT_NE(err, "") << "no error";
    EXPECT_NE(err.find(path + ": "), std::string::npos) << err;
    EXPECT_NE(err.find("bytes, more than"), std::string::npos) << err;
  }
  std::remove(path.c_str());
}

// --- item 4: numeric ranges -------------------------------------------------------------------

TEST(Ranges, NanAndInfiniteMeasurementOptionsAreRefused) {
  for (const char* field : {"timeout_s", "max_noise", "min_time_s"})
    for (const char* value : {".nan", ".inf", "-.inf", "1e10"}) {
      const std::string err =
          error_of(std::string("measurement: {") + field + ": " + value + "}\ncases:\n  - kernel: rms_norm\n");
      EXPECT_NE(err.find(std::string("suite.yaml:1: key 'measurement.") + field + "': must be a finite number in"),
                std::string::npos)
          << field << "=" << value << ": " << err;
    }
  EXPECT_NE(error_of("measurement: {max_noise: 0}\ncases: [{kernel: rms_norm}]\n").find("(0, 1]"), std::string::npos);
  EXPECT_EQ(error_of("measurement: {timeout_s: 3600, max_noise: 1, min_time_s: 0}\ncases: [{kernel: rms_norm}]\n"), "");
}

TEST(Ranges, IntegerOptionsAndPriorityHaveBounds) {
  const struct {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"measurement: {warmup_runs: -1}", "key 'measurement.warmup_runs': must be at least 0 and at most 10000, got -1"},
      {"measurement: {min_samples: 0}", "key 'measurement.min_samples': must be at least 1 and at most 1000000"},
      {"measurement: {max_samples: 2000000}", "key 'measurement.max_samples': must be at least 1 and at most 1000000"},
      {"measurement: {min_samples: 20, max_samples: 10}", "key 'measurement.max_samples': must be at least 20 and"},
      {"priority: 5000", "key 'priority': must be at least -1000 and at most 1000, got 5000"},
      {"measurement: {min_samples: 99999999999}", "key 'measurement.min_samples': expected an integer, got '99999999999'"},
  };
  for (const auto& c : cases) {
    const std::string err = error_of(std::string(c.yaml) + "\ncases: [{kernel: rms_norm}]\n");
    EXPECT_NE(err.find(c.want), std::string::npos) << c.yaml << " -> " << err;
  }
}

TEST(Ranges, ZeroSizeAxesAreRefused) {
  // rms_norm T=0 used to "pass" with a speedup over nothing.
  const std::string err = error_of("cases:\n  - kernel: rms_norm\n    shape: {T: 0, H: 64}\n");
  EXPECT_NE(err.find("suite.yaml:3: key 'cases[0].shape.T': value 0 is out of range (1 .. 2^40)"), std::string::npos)
      << err;
  EXPECT_NE(error_of("cases:\n  - kernel: rms_norm\n    shape: {H: 1099511627777}\n").find("out of range"),
            std::string::npos);
}

TEST(Ranges, AxesThatMustBeMultiplesSayWhy) {
  const std::string err = error_of("cases:\n  - kernel: matmul_int2xint8\n    shape: {M: 1, K: 4098, N: 8}\n");
  EXPECT_NE(err.find("suite.yaml:3: key 'cases[0].shape.K': value 4098 is not a multiple of 4 (reduction dim"),
            std::string::npos)
      << err;
  EXPECT_NE(error_of("cases:\n  - kernel: rope\n    shape: {D: 41}\n").find("value 41 is not a multiple of 2"),
            std::string::npos);
  EXPECT_EQ(error_of("cases:\n  - kernel: rope\n    shape: {D: 42}\n"), "");
  EXPECT_NE(error_of("cases:\n  - kernel: multi_token_attention\n    shape: {K: 4}\n").find("value 4: K must be odd"),
            std::string::npos);
}

// --- item 9: clear errors ---------------------------------------------------------------------

TEST(ClearErrors, NonScalarKeysNameFileLineAndKey) {
  std::string err = error_of("? [a, b]\n: 1\ncases: [{kernel: rms_norm}]\n");
  EXPECT_NE(err.find("suite.yaml:1: document: a key must be a plain name, not a list"), std::string::npos) << err;
  err = error_of("cases:\n  - kernel: rms_norm\n    shape: {{T: 1}: 8}\n");
  EXPECT_NE(err.find("suite.yaml:3: key 'cases[0].shape': a key must be a plain name, not a mapping"), std::string::npos)
      << err;
}

TEST(ClearErrors, DuplicateKeysAreRefused) {
  std::string err = error_of("name: a\nname: b\ncases: [{kernel: rms_norm}]\n");
  EXPECT_NE(err.find("suite.yaml:2: key 'name': duplicate key (first given on line 1)"), std::string::npos) << err;
  err = error_of("cases:\n  - kernel: rms_norm\n    shape:\n      T: 8\n      T: 16\n");
  EXPECT_NE(err.find("suite.yaml:5: key 'cases[0].shape.T': duplicate key (first given on line 4)"), std::string::npos)
      << err;
}

TEST(ClearErrors, UnterminatedQuoteIsASyntaxErrorNotAnEmptyJob) {
  for (const char* yaml : {"name: \"abc\ncases:\n  - kernel: rms_norm\n", "name: 'it''s\ncases: [{kernel: rms_norm}]\n"}) {
    const std::string err = error_of(yaml);
    EXPECT_NE(err.find("suite.yaml:1: unterminated quoted string"), std::string::npos) << err;
    EXPECT_EQ(err.find("no cases"), std::string::npos) << err;
  }
  // Closed quotes, escapes and anchors on quoted scalars are fine.
  EXPECT_EQ(error_of("name: &n \"a\\\"b\"\nlabels: {x: 'it''s', y: *n}\ncases: [{kernel: rms_norm}]\n"), "");
}

TEST(ClearErrors, DeepNestingIsBoundedWithFileAndLine) {
  const std::string err = error_of("name: x\ncases: " + repeat("[", 5000) + repeat("]", 5000) + "\n");
  EXPECT_NE(err.find("suite.yaml:2: nesting deeper than 32 levels"), std::string::npos) << err;
  std::string block = "cases:\n";
  for (int i = 0; i < 100; ++i) block += std::string(2 * i + 2, ' ') + "-\n";
  EXPECT_NE(error_of(block).find("nesting deeper than 32 levels"), std::string::npos);
}

TEST(ClearErrors, SecondDocumentIsRefused) {
  EXPECT_NE(error_of("cases: [{kernel: rms_norm}]\n---\nname: other\n").find("suite.yaml:2: more than one YAML document"),
            std::string::npos);
}

TEST(ClearErrors, DirectoryAsSuiteFile) {
  {
    const std::string err = input_error_of([&] { load_suite(::testing::TempDir()); });
    ASSERT_NE(err, "") << "no error";
    EXPECT_NE(err.find("is a directory, not a suite file"), std::string::npos) << err;
  }
}

TEST(ClearErrors, ManyProblemsAreListedUpToALimit) {
  std::string yaml = "cases:\n";
  for (int i = 0; i < 50; ++i) yaml += "  - kernel: nope" + std::to_string(i) + "\n";
  const std::string err = error_of(yaml);
  EXPECT_NE(err.find("unknown kernel 'nope19'"), std::string::npos);
  EXPECT_EQ(err.find("unknown kernel 'nope20'"), std::string::npos);
  EXPECT_NE(err.find("suite.yaml: ... and 30 more problems"), std::string::npos) << err;
}

TEST(ClearErrors, UnwritableOutputIsRefusedBeforeAnyWork) {
  {
    const std::string err = input_error_of([&] { check_writable("/nonexistent/dir/r.json", "--out"); });
    ASSERT_NE(err, "") << "no error";
    EXPECT_NE(err.find("--out '/nonexistent/dir/r.json': cannot write there (No such file or directory)"),
              std::string::npos)
        << err;
  }
  {
    const std::string err = input_error_of([&] { check_writable(::testing::TempDir(), "--out"); });
    ASSERT_NE(err, "") << "no error";
    EXPECT_NE(err.find("is a directory"), std::string::npos) << err;
  }
  const std::string ok = ::testing::TempDir() + "/writable_probe.json";
  EXPECT_NO_THROW(check_writable(ok, "--out"));
  EXPECT_NE(access(ok.c_str(), F_OK), 0) << "the probe leaves nothing behind";
  EXPECT_NE(access((ok + "." + std::to_string(getpid()) + ".tmp").c_str(), F_OK), 0);  // the probe's own name
}

}  // namespace
