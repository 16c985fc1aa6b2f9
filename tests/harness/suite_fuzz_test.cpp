// Fuzz test of the suite parser (issue 12): seeded random and mutated YAML, starting from the
// repository's suites and test data. Every input must be accepted or refused with an InputError
// whose message names the file (and a line or key), within a time bound; no other exception, no
// crash, no hang. An accepted suite must also count exactly what it expands to.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ligerbench/suite.h"

namespace {

using namespace ligerbench;
using Clock = std::chrono::steady_clock;

constexpr int kInputs = 3000;
constexpr double kMaxSecondsPerInput = 2.0;  // the slowest input seen here takes well under 0.1 s
constexpr const char* kFile = "fuzz.yaml";

std::vector<std::string> seed_corpus() {
  std::vector<std::string> out;
  const std::filesystem::path root = LIGERBENCH_SOURCE_DIR;
  for (const auto* dir : {"configs/suites", "tests/harness/data"})
    for (const auto& e : std::filesystem::directory_iterator(root / dir))
      if (e.path().extension() == ".yaml") {
        std::ifstream in(e.path());
        std::stringstream ss;
        ss << in.rdbuf();
        out.push_back(ss.str());
      }
  // Small shapes of every construct the format has, so that mutations reach each conversion.
  out.push_back(R"(name: small
labels: {commit: abc, branch: main}
priority: 3
devices: [cpu]
measurement: {warmup_runs: 0, min_samples: 1, max_samples: 2, min_time_s: 0, max_noise: 0.5, timeout_s: 1, cold: false, check_accuracy: true, seed: 7, keep_samples: false}
cases:
  - kernel: rms_norm
    shape: {T: [4, 8], H: 16}
    dtypes: [fp32, bf16]
    modes: [forward, full]
    providers: [liger, baseline]
    params: {casting_mode: gemma, eps: 1e-5, offset: 1.0}
  - {kernel: cross_entropy, shape: {BT: 4, V: 32}, params: {label_smoothing: 0.1, ignore_index: -100}}
)");
  return out;
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::string input(const std::vector<std::string>& corpus) {
    if (pick(20) == 0) return random_bytes();
    std::string s = corpus[pick(corpus.size())];
    const int n = 1 + static_cast<int>(pick(3));
    for (int i = 0; i < n; ++i) mutate(s);
    return s;
  }

 private:
  std::size_t pick(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  std::size_t pos(const std::string& s) { return pick(s.size() + 1); }

  std::string random_bytes() {
    static const std::string alphabet = "abcdefgkrmsnT HV:[]{},-&*!|>'\"#\n\t0123456789.";
    std::string s(pick(400), ' ');
    for (auto& c : s) c = pick(4) == 0 ? static_cast<char>(pick(256)) : alphabet[pick(alphabet.size())];
    return s;
  }

  void mutate(std::string& s) {
    static const std::vector<std::string> numbers = {
        "99999999999999999999999", "-9223372036854775809", "9223372036854775807", "1e400", "-1e400", "0",
        "-1", ".nan", ".inf", "-.inf", "nan", "inf", "0x7fffffff", "1099511627777", "4294967296", "1e-400", "2147483648"};
    static const std::vector<std::string> unicode = {"\xc3\xa9", "\xe2\x80\xae", "\xf0\x9d\x94\x98", "\xff\xfe",
                                                     std::string(1, '\0'), "\xef\xbb\xbf", "\xe2\x80\x8b", "\xc0\x80"};
    switch (pick(10)) {
      case 0:  // byte flips
        for (int i = 0, n = 1 + static_cast<int>(pick(8)); i < n && !s.empty(); ++i) s[pick(s.size())] ^= 1 << pick(8);
        break;
      case 1:  // truncation
        s.resize(pos(s));
        break;
      case 2: {  // duplication of a slice, possibly many times
        const std::size_t a = pos(s), b = std::min(s.size(), a + pick(200));
        const std::string slice = s.substr(a, b - a);
        for (int i = 0, n = 1 + static_cast<int>(pick(pick(2) ? 3 : 200)); i < n; ++i) s.insert(pos(s), slice);
        break;
      }
      case 3: {  // aliases: anchor a value, then refer to it, or a nested alias bomb
        if (pick(2)) {
          std::string bomb = "x0: &x0 [a, a, a, a, a, a, a, a]\n";
          for (int i = 1, n = 2 + static_cast<int>(pick(8)); i < n; ++i) {
            bomb += "x" + std::to_string(i) + ": &x" + std::to_string(i) + " [";
            for (int j = 0; j < 8; ++j) bomb += (j ? ", *x" : "*x") + std::to_string(i - 1);
            bomb += "]\n";
          }
          s.insert(pick(2) ? 0 : s.size(), bomb);
        } else {
          const std::size_t colon = s.find(": ", pos(s));
          if (colon != std::string::npos) s.insert(colon + 2, "&z ");
          for (int i = 0, n = 1 + static_cast<int>(pick(50)); i < n; ++i) {
            const std::size_t c = s.find(": ", pos(s));
            if (c != std::string::npos) s.insert(c + 2, "*z ");
          }
        }
        break;
      }
      case 4: {  // deep nesting, flow or block
        const int depth = static_cast<int>(pick(200));
        const std::size_t at = pos(s);
        if (pick(2)) {
          s.insert(at, std::string(depth, '[') + "1" + std::string(depth, ']'));
        } else {
          std::string block = "\n";
          for (int i = 0; i < depth; ++i) block += std::string(2 * i, ' ') + "-\n";
          s.insert(at, block);
        }
        break;
      }
      case 5: {  // huge numbers, NaN and infinities in place of a number
        std::size_t i = s.find_first_of("0123456789", pos(s));
        if (i == std::string::npos) i = pos(s);
        std::size_t j = i;
        while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
        s.replace(i, j - i, numbers[pick(numbers.size())]);
        break;
      }
      case 6:  // unicode and invalid UTF-8
        for (int i = 0, n = 1 + static_cast<int>(pick(4)); i < n; ++i) s.insert(pos(s), unicode[pick(unicode.size())]);
        break;
      case 7: {  // a line deleted or repeated (duplicate keys)
        const std::size_t a = s.rfind('\n', pos(s));
        const std::size_t start = a == std::string::npos ? 0 : a + 1;
        const std::size_t end = std::min(s.size(), s.find('\n', start) == std::string::npos ? s.size() : s.find('\n', start) + 1);
        const std::string line = s.substr(start, end - start);
        if (pick(2)) s.erase(start, end - start);
        else s.insert(end, line);
        break;
      }
      case 8: {  // structural characters
        static const std::string structural = "[]{}:,-?&*!|>'\"#\n ";
        s.insert(pos(s), 1, structural[pick(structural.size())]);
        break;
      }
      default: {  // a known key with a value of the wrong kind
        static const std::vector<std::string> snippets = {
            "\nmeasurement: {timeout_s: .inf}\n", "\npriority: [1, 2]\n", "\ncases: 3\n", "\n? {a: 1}\n: b\n",
            "\nname: \"unterminated\n", "\nlabels: {a: {b: c}}\n", "\ndevices: cuda:99999999999999999999\n",
            "\ncases:\n  - {kernel: rms_norm, shape: {T: 0}}\n", "\n---\nname: two\n", "\nname: !!binary aGVsbG8=\n"};
        s.insert(pick(2) ? s.size() : pos(s), snippets[pick(snippets.size())]);
      }
    }
  }

  std::mt19937_64 rng_;
};

// A refusal names the file; its first line also names a line or a key (or the file's size).
bool clear_message(const std::string& msg) {
  const std::string first = msg.substr(0, msg.find('\n'));
  if (first.rfind(std::string(kFile) + ":", 0) != 0) return false;
  const bool has_line = first.size() > 10 && std::isdigit(static_cast<unsigned char>(first[std::string(kFile).size() + 1]));
  return has_line || first.find("key '") != std::string::npos || first.find("bytes, more than") != std::string::npos;
}

TEST(SuiteFuzz, MutatedAndRandomYamlIsAcceptedOrRefusedClearly) {
  const auto corpus = seed_corpus();
  ASSERT_GE(corpus.size(), 3u);
  constexpr uint64_t kSeed = 20261203;
  Mutator mutator(kSeed);

  // A watchdog for a hang: one input past 10x its bound ends the process with the input's index.
  std::atomic<int> current{-1};
  std::atomic<int64_t> started_ns{0};
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const int64_t t = started_ns.load();
      if (t && Clock::now().time_since_epoch().count() - t > static_cast<int64_t>(10 * kMaxSecondsPerInput * 1e9)) {
        std::fprintf(stderr, "SuiteFuzz: input %d (seed %llu) hangs\n", current.load(), static_cast<unsigned long long>(kSeed));
        std::_Exit(3);
      }
    }
  });

  int accepted = 0, refused = 0, unclear = 0, other = 0, expanded = 0;
  double slowest = 0;
  for (int i = 0; i < kInputs; ++i) {
    const std::string text = mutator.input(corpus);
    current = i;
    const auto t0 = Clock::now();
    started_ns = t0.time_since_epoch().count();
    try {
      const v1::JobSpec job = parse_suite(text, kFile);
      ++accepted;
      const uint64_t n = job_case_count(job, 1);
      if (n <= 20000) {
        EXPECT_EQ(expand_cases(job, {"cpu"}).size(), n) << "input " << i << ":\n" << text;
        ++expanded;
      }
    } catch (const InputError& e) {
      ++refused;
      if (!clear_message(e.what())) {
        ++unclear;
        ADD_FAILURE() << "input " << i << ": unclear message: " << e.what() << "\n--- input:\n" << text.substr(0, 2000);
      }
    } catch (const std::exception& e) {
      ++other;
      ADD_FAILURE() << "input " << i << ": not an InputError: " << e.what() << "\n--- input:\n" << text.substr(0, 2000);
    }
    started_ns = 0;
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    slowest = std::max(slowest, secs);
    EXPECT_LT(secs, kMaxSecondsPerInput) << "input " << i << " took " << secs << " s";
  }
  done = true;
  watchdog.join();
  std::printf("SuiteFuzz: %d inputs (seed %llu): %d accepted (%d expanded and counted), %d refused with an "
              "InputError (%d unclear), %d other exceptions; slowest %.3f s\n",
              kInputs, static_cast<unsigned long long>(kSeed), accepted, expanded, refused, unclear, other, slowest);
  RecordProperty("accepted", accepted);
  RecordProperty("refused", refused);
  EXPECT_EQ(accepted + refused + other, kInputs);
  EXPECT_GT(accepted, 0) << "the mutations should leave some suites valid";
  EXPECT_GT(refused, kInputs / 2);
}

}  // namespace
