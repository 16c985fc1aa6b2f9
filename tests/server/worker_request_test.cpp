// The worker receives a case as its CaseSpec, never as a sweep to expand again, and answers with
// a result that carries the same CaseSpec.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include "ligerbench/server/scheduler.h"
#include "ligerbench/server/worker.h"
#include "ligerbench/suite.h"

namespace {

using namespace ligerbench;
using google::protobuf::util::MessageDifferencer;

v1::JobSpec one_case_job() {
  return parse_suite(R"(
measurement: {min_samples: 1, max_samples: 1, min_time_s: 0, warmup_runs: 0, warmup_s: 0, timeout_s: 2}
cases:
  - kernel: rms_norm
    shape: {T: 4, H: 16}
    modes: [forward]
    providers: [liger]
)", "one.yaml");
}

TEST(WorkerRequest, CarriesTheCaseSpecAndNoSweep) {
  const v1::JobSpec job = one_case_job();
  const auto cases = expand_cases(job, {"cpu"});
  ASSERT_EQ(cases.size(), 1u);
  const v1::WorkerRequest req = server::case_request(cases[0], job.measurement());
  ASSERT_TRUE(req.has_run_case());
  EXPECT_TRUE(MessageDifferencer::Equals(req.run_case().spec(), cases[0].case_spec));
  EXPECT_TRUE(MessageDifferencer::Equals(req.run_case().measurement(), job.measurement()));
  const auto* d = v1::RunCaseRequest::descriptor();
  EXPECT_EQ(d->FindFieldByName("sweep"), nullptr) << "the worker expands no sweep";
  EXPECT_EQ(d->FindFieldByName("key"), nullptr) << "the key is the spec's";
  EXPECT_EQ(d->FindFieldByName("device"), nullptr) << "the device is the spec's";
}

TEST(WorkerRequest, TheWorkerRunsTheSpecAndItsResultCarriesIt) {
  const v1::JobSpec job = one_case_job();
  const Case c = expand_cases(job, {"cpu"}).at(0);
  server::Worker worker(LIGERBENCH_WORKER_PATH, {});
  const auto deadline = server::Worker::Clock::now() + std::chrono::seconds(120);
  auto out = worker.call(server::case_request(c, job.measurement()), deadline);
  ASSERT_TRUE(out.ok) << out.failure;
  ASSERT_TRUE(out.response.has_case_result()) << out.response.error();
  const v1::CaseResult& r = out.response.case_result();
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(MessageDifferencer::Equals(r.spec(), c.case_spec)) << r.spec().ShortDebugString();
  EXPECT_GT(r.timing().median_ms(), 0);

  // A spec the worker's registry cannot resolve fails that request, naming the case.
  v1::WorkerRequest bad = server::case_request(c, job.measurement());
  bad.mutable_run_case()->mutable_spec()->set_kernel("rms_nrom");
  out = worker.call(bad, deadline);
  ASSERT_TRUE(out.ok) << out.failure;
  EXPECT_FALSE(out.response.has_case_result());
  EXPECT_NE(out.response.error().find("bad case: case '" + c.case_spec.key() + "': no kernel 'rms_nrom'"),
            std::string::npos)
      << out.response.error();
}

}  // namespace
