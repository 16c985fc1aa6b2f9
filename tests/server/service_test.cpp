// BenchService in process: validation with field names, running, faults, cancel, timeout, watch.
#include <gtest/gtest.h>

#include <functional>

#include "ligerbench/version.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : server_(test_config(dir_)), client_(server_.port()) {}
  TempDir dir_;
  InProcess server_;
  Client client_;
};

struct BadSubmit {
  std::string name;
  std::function<void(v1::SubmitJobRequest&)> mutate;
  grpc::StatusCode code;
  std::string field;  // the message starts with it
  std::string also;   // and contains this
};

TEST_F(ServiceTest, EveryBadSubmitNamesItsField) {
  const std::vector<BadSubmit> cases = {
      {"no cases", [](auto& r) { r.mutable_spec()->clear_cases(); }, grpc::StatusCode::INVALID_ARGUMENT, "spec.cases", "no cases"},
      {"kernel", [](auto& r) { r.mutable_spec()->mutable_cases(0)->set_kernel("rms_nrom"); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0].kernel", "unknown kernel 'rms_nrom'"},
      {"dtype", [](auto& r) { r.mutable_spec()->mutable_cases(0)->set_dtypes(0, "fp8"); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0].dtypes[0]", "fp8"},
      {"mode", [](auto& r) { r.mutable_spec()->mutable_cases(0)->set_modes(0, "sideways"); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0].modes[0]", "sideways"},
      {"provider", [](auto& r) { r.mutable_spec()->mutable_cases(0)->add_providers("triton"); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0].providers[0]", "triton"},
      {"axis", [](auto& r) { (*r.mutable_spec()->mutable_cases(0)->mutable_shape())["X"].add_values(3); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0].shape.X", "no axis 'X'"},
      {"axis value", [](auto& r) { (*r.mutable_spec()->mutable_cases(0)->mutable_shape())["T"].set_values(0, -1); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0].shape.T", "out of range"},
      {"param", [](auto& r) { (*r.mutable_spec()->mutable_cases(0)->mutable_params())["casting_mode"] = "mistral"; },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0].params.casting_mode", "mistral"},
      {"measurement", [](auto& r) { r.mutable_spec()->mutable_measurement()->set_min_samples(0); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.measurement.min_samples", "at least 1"},
      {"device syntax", [](auto& r) { r.mutable_spec()->add_devices("tpu"); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.devices[0]", "tpu"},
      {"device not served", [](auto& r) { r.mutable_spec()->add_devices("cuda:3"); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.devices[0]", "not served here"},
      {"filter regex", [](auto& r) { r.set_filter("(["); }, grpc::StatusCode::INVALID_ARGUMENT, "filter", "regular expression"},
      {"filter empty", [](auto& r) { r.set_filter("no-such-case"); }, grpc::StatusCode::INVALID_ARGUMENT, "filter", "no case"},
      {"timeout", [](auto& r) { r.set_timeout_s(-1); }, grpc::StatusCode::INVALID_ARGUMENT, "timeout_s", "finite number of seconds"},
      {"too large for the device",
       [](auto& r) {
         auto& shape = *r.mutable_spec()->mutable_cases(0)->mutable_shape();
         shape["T"].set_values(0, int64_t{1} << 30);
         shape["H"].set_values(0, int64_t{1} << 20);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0].shape", "GiB on cpu"},
      {"too many cases",
       [](auto& r) {
         auto& t = (*r.mutable_spec()->mutable_cases(0)->mutable_shape())["T"];
         for (int i = 0; i < 600; ++i) t.add_values(i + 1);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.cases[0]", "max_cases_per_job"},
      {"request too large", [](auto& r) { (*r.mutable_spec()->mutable_labels())["blob"] = std::string(5 << 20, 'x'); },
       grpc::StatusCode::RESOURCE_EXHAUSTED, "", "larger than max"},
  };
  for (const auto& c : cases) {
    v1::SubmitJobRequest req;
    *req.mutable_spec() = tiny_spec();
    c.mutate(req);
    v1::SubmitJobResponse resp;
    auto ctx = client_.ctx();
    const auto s = client_.stub().SubmitJob(ctx.get(), req, &resp);
    EXPECT_EQ(s.error_code(), c.code) << c.name << ": " << s.error_message();
    if (!c.field.empty()) EXPECT_EQ(s.error_message().rfind(c.field + ":", 0), 0u) << c.name << ": " << s.error_message();
    EXPECT_NE(s.error_message().find(c.also), std::string::npos) << c.name << ": " << s.error_message();
    EXPECT_TRUE(resp.job_id().empty()) << c.name;
  }
  // Nothing was queued by any of them.
  v1::ListJobsRequest lreq;
  v1::ListJobsResponse lresp;
  auto ctx = client_.ctx();
  ASSERT_TRUE(client_.stub().ListJobs(ctx.get(), lreq, &lresp).ok());
  EXPECT_EQ(lresp.jobs_size(), 0);
}

TEST_F(ServiceTest, OtherBadRequestsNameTheirField) {
  auto code_and_message = [](const grpc::Status& s) { return std::to_string(s.error_code()) + " " + s.error_message(); };
  {
    v1::GetJobRequest req;
    v1::GetJobResponse resp;
    auto ctx = client_.ctx();
    EXPECT_EQ(code_and_message(client_.stub().GetJob(ctx.get(), req, &resp)), "3 job_id: is empty");
    req.set_job_id("j-nope");
    auto ctx2 = client_.ctx();
    EXPECT_EQ(code_and_message(client_.stub().GetJob(ctx2.get(), req, &resp)), "5 job_id: no job 'j-nope'");
  }
  {
    v1::CancelJobRequest req;
    req.set_job_id("j-nope");
    v1::CancelJobResponse resp;
    auto ctx = client_.ctx();
    EXPECT_EQ(code_and_message(client_.stub().CancelJob(ctx.get(), req, &resp)), "5 job_id: no job 'j-nope'");
  }
  {
    v1::ListJobsRequest req;
    v1::ListJobsResponse resp;
    req.set_page_size(5000);
    auto ctx = client_.ctx();
    EXPECT_EQ(client_.stub().ListJobs(ctx.get(), req, &resp).error_message().rfind("page_size:", 0), 0u);
    req.set_page_size(10);
    req.set_page_token("garbage");
    auto ctx2 = client_.ctx();
    EXPECT_EQ(client_.stub().ListJobs(ctx2.get(), req, &resp).error_message().rfind("page_token:", 0), 0u);
    req.clear_page_token();
    req.add_states(v1::JOB_STATE_UNSPECIFIED);
    auto ctx3 = client_.ctx();
    EXPECT_EQ(client_.stub().ListJobs(ctx3.get(), req, &resp).error_message().rfind("states[0]:", 0), 0u);
  }
  {
    grpc::Status s;
    client_.watch("j-nope", 0, &s);
    EXPECT_EQ(code_and_message(s), "5 job_id: no job 'j-nope'");
  }
}

TEST_F(ServiceTest, RunsAJobAndStoresEveryResult) {
  const std::string id = client_.submit_ok(tiny_spec());
  ASSERT_FALSE(id.empty());
  const auto r = client_.wait(id);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  EXPECT_EQ(r.job().total_cases(), 2);
  EXPECT_EQ(r.job().done_cases(), 2);
  EXPECT_EQ(r.job().failed_cases(), 0);
  EXPECT_EQ(r.job().attempts(), 1);
  EXPECT_FALSE(r.job().started_at().empty());
  EXPECT_FALSE(r.job().finished_at().empty());
  ASSERT_EQ(r.result().cases_size(), 2);
  EXPECT_EQ(r.result().cases(0).spec().provider(), "baseline");
  EXPECT_EQ(r.result().cases(1).spec().provider(), "liger");
  for (const auto& c : r.result().cases()) {
    EXPECT_TRUE(c.ok()) << c.error();
    EXPECT_TRUE(c.accuracy().checked());
    EXPECT_TRUE(c.accuracy().passed());
    EXPECT_GT(c.timing().median_ms(), 0);
  }
  EXPECT_GT(r.result().cases(1).speedup(), 0) << "the liger row pairs with its baseline";
  EXPECT_EQ(r.result().node().ligerbench_version(), kVersion);

  // The stream of a finished job replays every event: queued, started, 2 cases, finished.
  const auto events = client_.watch(id);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].state_change(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(events[1].state_change(), v1::JOB_STATE_RUNNING);
  EXPECT_TRUE(events[2].has_case_result());
  EXPECT_EQ(events[3].case_index(), 1);
  EXPECT_EQ(events[4].state_change(), v1::JOB_STATE_FINISHED);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq(), static_cast<int64_t>(i + 1));
}

TEST_F(ServiceTest, FaultingKernelFailsOnlyItsCaseAndTheJobFinishes) {
  const std::string id = client_.submit_ok(spec_of(R"(
measurement: {min_samples: 1, max_samples: 2, warmup_runs: 0, min_time_s: 0}
cases:
  - {kernel: debug_fault, params: {mode: segfault}}
  - {kernel: debug_fault, params: {mode: abort}}
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward]}
)"));
  const auto r = client_.wait(id);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  ASSERT_EQ(r.result().cases_size(), 6);
  EXPECT_EQ(r.job().failed_cases(), 2);
  for (const auto& c : r.result().cases()) {
    if (c.spec().kernel() == "debug_fault" && c.spec().provider() == "liger") {
      EXPECT_FALSE(c.ok());
      const std::string sig = c.spec().params().at("mode") == "segfault" ? "SIGSEGV" : "SIGABRT";
      EXPECT_NE(c.error().find("crashed its worker: worker process killed by signal " + sig), std::string::npos)
          << c.error();
    } else {
      EXPECT_TRUE(c.ok()) << c.spec().key() << ": " << c.error();  // the cases after a crash run in a new worker
    }
  }
}

TEST_F(ServiceTest, StickyCudaErrorReplacesTheWorker) {
  const std::string id = client_.submit_ok(spec_of(R"(
measurement: {min_samples: 1, max_samples: 2, warmup_runs: 0, min_time_s: 0}
cases:
  - {kernel: debug_fault, params: {mode: cuda_error}, providers: [liger]}
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward]}
)"));
  const auto r = client_.wait(id);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED);
  ASSERT_EQ(r.result().cases_size(), 3);
  const auto& bad = r.result().cases(0);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("illegal memory access"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("the worker was replaced"), std::string::npos) << bad.error();
  EXPECT_TRUE(r.result().cases(1).ok()) << r.result().cases(1).error();
  EXPECT_TRUE(r.result().cases(2).ok()) << r.result().cases(2).error();
}

TEST_F(ServiceTest, CancelStopsARunningJobAtTheNextCaseAndAQueuedOneAtOnce) {
  const std::string running = client_.submit_ok(sleepy_spec(20, 100));
  const std::string queued = client_.submit_ok(tiny_spec());
  // Wait for the first case of the running job.
  while (client_.get(running).job().done_cases() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  v1::CancelJobRequest req;
  v1::CancelJobResponse resp;
  req.set_job_id(queued);
  auto ctx = client_.ctx();
  ASSERT_TRUE(client_.stub().CancelJob(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(client_.get(queued).job().state(), v1::JOB_STATE_CANCELLED);

  req.set_job_id(running);
  auto ctx2 = client_.ctx();
  ASSERT_TRUE(client_.stub().CancelJob(ctx2.get(), req, &resp).ok());
  EXPECT_EQ(resp.state(), v1::JOB_STATE_RUNNING) << "it stops after the current case";
  const auto r = client_.wait(running);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_CANCELLED);
  EXPECT_LT(r.job().done_cases(), 40);
  EXPECT_EQ(r.result().cases_size(), r.job().done_cases()) << "the finished cases are kept";

  // A job that ended cannot be cancelled.
  auto ctx3 = client_.ctx();
  const auto s = client_.stub().CancelJob(ctx3.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message().rfind("job_id:", 0), 0u) << s.error_message();
}

TEST_F(ServiceTest, TimeoutEndsAHangingJob) {
  std::string id;
  const auto s = client_.submit(spec_of(R"(
measurement: {min_samples: 1, max_samples: 1, warmup_runs: 0, check_accuracy: false}
cases:
  - {kernel: debug_fault, params: {mode: hang}, providers: [liger]}
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward]}
)"),
                                &id, "", 1.0);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto r = client_.wait(id, 30);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_TIMED_OUT);
  ASSERT_EQ(r.result().cases_size(), 1);
  EXPECT_NE(r.result().cases(0).error().find("timeout of 1"), std::string::npos) << r.result().cases(0).error();
  // The server goes on with the next job on a fresh worker.
  EXPECT_EQ(client_.wait(client_.submit_ok(tiny_spec())).job().state(), v1::JOB_STATE_FINISHED);
}

TEST_F(ServiceTest, WatchReconnectGetsWhatItMissedExactlyOnce) {
  const std::string id = client_.submit_ok(sleepy_spec(4, 100));
  // First connection: read three events, then drop the stream.
  std::vector<v1::JobEvent> seen;
  {
    v1::WatchJobRequest req;
    req.set_job_id(id);
    auto ctx = client_.ctx();
    auto reader = client_.stub().WatchJob(ctx.get(), req);
    v1::JobEvent e;
    while (seen.size() < 3 && reader->Read(&e)) seen.push_back(e);
    ctx->TryCancel();
    reader->Finish();
  }
  ASSERT_EQ(seen.size(), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // events go by while disconnected
  const auto rest = client_.watch(id, seen.back().seq());
  seen.insert(seen.end(), rest.begin(), rest.end());
  ASSERT_EQ(seen.size(), 2u + 8u + 1u);  // queued, started, 8 cases, finished
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].seq(), static_cast<int64_t>(i + 1));
  EXPECT_EQ(seen.back().state_change(), v1::JOB_STATE_FINISHED);
  int case_events = 0;
  for (const auto& e : seen) case_events += e.has_case_result();
  EXPECT_EQ(case_events, 8);
}

TEST_F(ServiceTest, ListsJobsKernelsAndNode) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(client_.submit_ok(tiny_spec("list" + std::to_string(i))));
  for (const auto& id : ids) client_.wait(id);
  v1::JobSpec other = tiny_spec("other");
  (*other.mutable_labels())["suite"] = "other";
  client_.wait(client_.submit_ok(other));

  // Paged, newest first, filtered by label and state.
  v1::ListJobsRequest req;
  req.set_page_size(2);
  (*req.mutable_labels())["suite"] = "tiny";
  req.add_states(v1::JOB_STATE_FINISHED);
  std::vector<std::string> listed;
  while (true) {
    v1::ListJobsResponse resp;
    auto ctx = client_.ctx();
    ASSERT_TRUE(client_.stub().ListJobs(ctx.get(), req, &resp).ok());
    for (const auto& j : resp.jobs()) listed.push_back(j.id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(listed, (std::vector<std::string>{ids[2], ids[1], ids[0]}));

  v1::ListKernelsResponse kernels;
  auto ctx = client_.ctx();
  ASSERT_TRUE(client_.stub().ListKernels(ctx.get(), {}, &kernels).ok());
  std::set<std::string> names;
  for (const auto& k : kernels.kernels()) names.insert(k.name());
  EXPECT_TRUE(names.count("rms_norm"));
  EXPECT_TRUE(names.count("debug_fault")) << "the test config enables the debug kernels";

  v1::GetNodeInfoResponse node;
  auto ctx2 = client_.ctx();
  ASSERT_TRUE(client_.stub().GetNodeInfo(ctx2.get(), {}, &node).ok());
  EXPECT_EQ(node.devices(0), "cpu");
  EXPECT_EQ(node.node().ligerbench_version(), kVersion);
  EXPECT_FALSE(node.node().torch_version().empty());
}

TEST_F(ServiceTest, HigherPriorityRunsFirst) {
  const std::string blocker = client_.submit_ok(sleepy_spec(2, 200));
  const std::string low = client_.submit_ok(tiny_spec("low"));
  v1::JobSpec urgent = tiny_spec("urgent");
  urgent.set_priority(10);
  const std::string high = client_.submit_ok(urgent);
  client_.wait(blocker);
  const auto l = client_.wait(low), h = client_.wait(high);
  EXPECT_LE(h.job().started_at(), l.job().started_at());
}

}  // namespace
