// SubmitJob under seeded random input, sent as raw bytes to a real server on loopback: random
// bytes, byte-level mutations of a valid request, and field-level mutations of valid JobSpecs.
// Nothing may crash or hang the server; every refusal has a fitting code and a message; health
// answers afterwards. A hanging job holds the only device meanwhile, so what the fuzzer gets
// accepted waits in the queue (and is cancelled at the end) instead of running.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "generic_calls.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

constexpr int kInputs = 3000;
constexpr uint64_t kSeed = 20261203;

class Fuzzer {
 public:
  explicit Fuzzer(uint64_t seed) : rng_(seed) {}

  int below(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  char byte() { return static_cast<char>(rng_() & 0xff); }

  std::string random_bytes(int max_len) {
    std::string s(below(max_len + 1), '\0');
    for (auto& c : s) c = byte();
    return s;
  }

  // Text from `alphabet`, up to max_len characters.
  std::string text(const std::string& alphabet, int max_len) {
    std::string s(below(max_len + 1), ' ');
    for (auto& c : s) c = alphabet[below(static_cast<int>(alphabet.size()))];
    return s;
  }

  double number() {
    static const double special[] = {std::nan(""), std::numeric_limits<double>::infinity(),
                                      -std::numeric_limits<double>::infinity(), 0, -1, 1e-300, 1e10, 1e300, 0.5, 5};
    return below(2) ? special[below(10)] : std::ldexp(static_cast<double>(rng_() >> 11), below(80) - 60);
  }

  int64_t integer() {
    static const int64_t special[] = {0, -1, 1, 2, 1024, int64_t{1} << 31, int64_t{1} << 40, INT64_MAX, INT64_MIN};
    return below(2) ? special[below(9)] : static_cast<int64_t>(rng_() >> below(64));
  }

  // Byte-level: flip, insert, delete, truncate or repeat a chunk, 1 to 8 times.
  std::string mutate_bytes(std::string s) {
    for (int n = 1 + below(8); n > 0; --n) {
      const int at = s.empty() ? 0 : below(static_cast<int>(s.size()));
      switch (below(5)) {
        case 0: if (!s.empty()) s[at] = byte(); break;
        case 1: s.insert(s.begin() + at, byte()); break;
        case 2: if (!s.empty()) s.erase(at, 1 + below(8)); break;
        case 3: s.resize(at); break;
        default: s.insert(at, s.substr(at, 1 + below(64))); break;
      }
    }
    return s;
  }

  // Field-level: 1 to 4 changes of a valid request.
  v1::SubmitJobRequest mutate_fields(v1::SubmitJobRequest req) {
    // Filters: no nested quantifiers (a backtracking engine may take exponential time on them).
    const std::string names = "abcdefghijklmnopqrstuvwxyz_0123456789:";
    for (int n = 1 + below(4); n > 0; --n) {
      auto* spec = req.mutable_spec();
      auto* sw = spec->mutable_cases(below(spec->cases_size()));
      auto* m = spec->mutable_measurement();
      switch (below(16)) {
        case 0: (*sw->mutable_shape())[below(2) ? "T" : "N"].add_values(integer()); break;
        case 1: for (int k = below(1000); k > 0; --k) (*sw->mutable_shape())["T"].add_values(1 + below(4096)); break;
        case 2: sw->set_kernel(text(names, 24)); break;
        case 3: sw->add_dtypes(text(names, 8)); break;
        case 4: sw->add_modes(below(2) ? "backward" : text(names, 10)); break;
        case 5: sw->add_providers(text(names, 10)); break;
        case 6: (*sw->mutable_params())[text(names, 12)] = text(names, 12); break;
        case 7: m->set_timeout_s(number()); break;
        case 8: m->set_min_time_s(number()); m->set_max_noise(number()); break;
        case 9: m->set_warmup_runs(static_cast<int32_t>(integer())); m->set_min_samples(static_cast<int32_t>(integer())); break;
        case 10: m->set_max_samples(static_cast<int32_t>(integer())); break;
        case 11: req.set_timeout_s(number()); break;
        case 12: req.set_filter(text(names + "|.^$[]()-", 30) + (below(2) ? ".*" : "")); break;
        case 13: spec->add_devices(below(2) ? "cuda:" + std::to_string(integer()) : text(names, 12)); break;
        case 14: for (int k = below(2000); k > 0; --k) *spec->add_cases() = *sw; break;
        default: spec->set_priority(static_cast<int32_t>(integer())); break;
      }
    }
    return req;
  }

 private:
  std::mt19937_64 rng_;
};

v1::SubmitJobRequest valid_request() {
  v1::SubmitJobRequest req;
  *req.mutable_spec() = spec_of(R"(
name: fuzz
labels: {suite: fuzz}
measurement: {min_samples: 1, max_samples: 2, warmup_runs: 0, min_time_s: 0}
cases:
  - {kernel: rms_norm, shape: {T: [4, 8], H: 8}, dtypes: [fp32], modes: [forward]}
  - {kernel: debug_fault, shape: {N: 16}, params: {mode: ok}}
)");
  return req;
}

TEST(SubmitFuzz, RandomAndMutatedRequestsGetClearAnswersAndTheServerLives) {
  TempDir dir;
  InProcess server(test_config(dir));
  const client::ClientOptions opts{"127.0.0.1:" + std::to_string(server.port())};
  Client c(server.port());
  const std::string blocker = c.submit_ok(spec_of(R"(
measurement: {check_accuracy: false}
cases:
  - {kernel: debug_fault, params: {mode: hang}, providers: [liger]}
)"));
  ASSERT_TRUE(c.wait_for_state(blocker, v1::JOB_STATE_RUNNING));

  Fuzzer fuzz(kSeed);
  const v1::SubmitJobRequest valid = valid_request();
  const std::string valid_bytes = valid.SerializeAsString();
  grpc::GenericStub stub(client::make_channel(opts));
  std::map<std::string, int> outcomes;  // "accepted", or the code of the refusal
  std::vector<std::string> accepted;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kInputs; ++i) {
    std::string input;
    switch (i % 3) {
      case 0: input = fuzz.random_bytes(512); break;
      case 1: input = fuzz.mutate_bytes(valid_bytes); break;
      default: input = fuzz.mutate_fields(valid).SerializeAsString(); break;
    }
    v1::SubmitJobRequest parsed;
    const bool parses = parsed.ParseFromString(input);
    const auto r = raw_unary(stub, opts, "/ligerbench.v1.BenchService/SubmitJob", input, 20);
    const auto code = r.status.error_code();
    ASSERT_NE(code, grpc::StatusCode::DEADLINE_EXCEEDED) << "input " << i << " hung the server";
    ASSERT_NE(code, grpc::StatusCode::UNAVAILABLE) << "input " << i << ": " << r.status.error_message();
    if (r.status.ok()) {
      v1::SubmitJobResponse resp;
      ASSERT_TRUE(resp.ParseFromString(r.body) && !resp.job_id().empty()) << "input " << i;
      accepted.push_back(resp.job_id());
      ++outcomes["accepted"];
      continue;
    }
    ++outcomes[std::to_string(code) + (parses ? "" : " (unparsable)")];
    if (parses) {
      EXPECT_TRUE(code == grpc::StatusCode::INVALID_ARGUMENT || code == grpc::StatusCode::RESOURCE_EXHAUSTED)
          << "input " << i << ": code " << code << " " << r.status.error_message();
      EXPECT_FALSE(r.status.error_message().empty()) << "input " << i << " refused without a message, code " << code;
    } else {
      // gRPC itself refuses bytes that are not a SubmitJobRequest before the service sees them;
      // its callback API (1.51) answers UNIMPLEMENTED without a message.
      EXPECT_TRUE(code == grpc::StatusCode::UNIMPLEMENTED || code == grpc::StatusCode::INTERNAL ||
                  code == grpc::StatusCode::INVALID_ARGUMENT)
          << "input " << i << ": code " << code << " " << r.status.error_message();
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string summary;
  for (const auto& [k, n] : outcomes) summary += " " + k + ": " + std::to_string(n) + ";";
  std::printf("[ fuzz ] %d SubmitJob inputs (seed %llu) in %.1f s:%s (codes: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, "
              "12 UNIMPLEMENTED, 13 INTERNAL)\n",
              kInputs, static_cast<unsigned long long>(kSeed), seconds, summary.c_str());
  EXPECT_GT(outcomes["accepted"], 0) << "the field mutations never kept a request valid";
  EXPECT_GT(outcomes["3"], 0);

  const auto health = health_check(opts);
  EXPECT_TRUE(health.status.ok()) << health.status.error_message();
  EXPECT_EQ(health.body, std::string("\x08\x01"));
  for (const auto& id : accepted) ASSERT_TRUE(c.cancel(id).ok()) << id;  // queued: cancelled at once
  ASSERT_TRUE(c.cancel(blocker).ok());
  EXPECT_EQ(c.wait(blocker, 20).job().state(), v1::JOB_STATE_CANCELLED);
}

}  // namespace
