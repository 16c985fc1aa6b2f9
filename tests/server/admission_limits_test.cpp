// Admission's filter and case-count block (issue 12, items 1 and 2), called in process: a
// pattern that makes a backtracking engine run for ever, a bad or overlong pattern, a sweep of
// 2^64 cases whose plain product wraps to 0, and a limit above the harness's hard maximum.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

#include "ligerbench/server/admission.h"
#include "ligerbench/suite.h"

namespace {

using namespace ligerbench;
using Clock = std::chrono::steady_clock;

server::AdmissionLimits cpu_limits() {
  server::AdmissionLimits l;
  l.devices = {"cpu"};
  l.max_cases_per_job = 1000;
  return l;
}

v1::SubmitJobRequest small_request() {
  v1::SubmitJobRequest req;
  *req.mutable_spec() = parse_suite("cases:\n  - {kernel: rms_norm, shape: {T: [8, 16], H: 32}, dtypes: [fp32]}\n", "s.yaml");
  return req;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

TEST(AdmissionLimits, BacktrackingFilterAnswersAtOnce) {
  auto req = small_request();
  req.set_filter("(.*)*Q");
  v1::Job job;
  v1::CaseSpecList cases;
  const auto t0 = Clock::now();
  const auto s = server::admit(req, cpu_limits(), &job, &cases);
  EXPECT_LT(seconds_since(t0), 1.0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("filter: no case of the spec matches", 0), 0u) << s.error_message();

  req.set_filter("T=16");  // RE2 search, as before: a substring selects
  ASSERT_TRUE(server::admit(req, cpu_limits(), &job, &cases).ok());
  EXPECT_EQ(job.total_cases(), 6);  // 1 shape x 3 modes x 2 providers
  ASSERT_EQ(cases.cases_size(), 6) << "the job's cases come with it, filtered";
  for (const auto& c : cases.cases()) EXPECT_NE(c.key().find("T=16"), std::string::npos) << c.key();
}

TEST(AdmissionLimits, BadAndOverlongFiltersNameTheField) {
  auto req = small_request();
  v1::Job job;
  v1::CaseSpecList cases;
  req.set_filter("(");
  auto s = server::admit(req, cpu_limits(), &job, &cases);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("filter: '(': not a valid RE2 regular expression", 0), 0u) << s.error_message();
  req.set_filter(std::string(100000, 'a'));
  s = server::admit(req, cpu_limits(), &job, &cases);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("longer than 1024 characters"), std::string::npos) << s.error_message().substr(0, 300);
  EXPECT_LT(s.error_message().size(), 300u) << "the pattern is quoted truncated";
}

TEST(AdmissionLimits, TwoTo64CasesAreRefusedWithoutExpanding) {
  v1::SubmitJobRequest req;
  auto* sweep = req.mutable_spec()->add_cases();
  sweep->set_kernel("rope");
  for (const char* axis : {"T", "HQ", "HKV", "D"}) {
    auto& values = (*sweep->mutable_shape())[axis];
    for (int i = 0; i < 65536; ++i) values.add_values(2);
  }
  v1::Job job;
  v1::CaseSpecList cases;
  const auto t0 = Clock::now();
  const auto s = server::admit(req, cpu_limits(), &job, &cases);
  EXPECT_LT(seconds_since(t0), 5.0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "spec.cases[0]: the job expands to more than max_cases_per_job (1000) cases (this sweep: 2^64 or more)");
}

TEST(AdmissionLimits, ALimitAboveTheHardMaximumIsClamped) {
  // 1,200,000 cases: under a configured 10^7, over the harness's hard 10^6.
  v1::SubmitJobRequest req;
  auto* sweep = req.mutable_spec()->add_cases();
  sweep->set_kernel("rms_norm");
  sweep->add_modes("forward");
  sweep->add_providers("liger");
  auto& t = (*sweep->mutable_shape())["T"];
  auto& h = (*sweep->mutable_shape())["H"];
  for (int i = 1; i <= 1200; ++i) t.add_values(i);
  for (int i = 1; i <= 1000; ++i) h.add_values(i);
  auto limits = cpu_limits();
  limits.max_cases_per_job = 10000000;
  v1::Job job;
  v1::CaseSpecList cases;
  const auto s = server::admit(req, limits, &job, &cases);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "spec.cases[0]: the job expands to more than max_cases_per_job (1000000) cases (this sweep: 1200000)");
}

}  // namespace
