// A job is expanded once, at admission: its CaseSpecs are kept with it in the store, and the
// scheduler runs those (resolved against the registry) in index order, at start and on resume. A
// job stored by a build before that (no cases kept) is expanded when it first runs, once.
#include <gtest/gtest.h>

#include "ligerbench/server/store.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

// tiny_spec as a queued job row, written straight into the store (as a server that stopped
// before running it left it).
v1::Job queued_tiny_job(const std::string& id) {
  v1::Job job;
  job.set_id(id);
  *job.mutable_spec() = tiny_spec();
  job.add_devices("cpu");
  job.set_state(v1::JOB_STATE_QUEUED);
  job.set_total_cases(2);
  job.set_timeout_s(3600);
  return job;
}

v1::JobEvent queued_event(const v1::Job& job) {
  v1::JobEvent e;
  e.set_seq(1);
  e.set_job_id(job.id());
  e.set_state_change(v1::JOB_STATE_QUEUED);
  return e;
}

v1::CaseSpecList specs_of(const std::vector<v1::CaseSpec>& v) {
  v1::CaseSpecList l;
  for (const auto& c : v) *l.add_cases() = c;
  return l;
}

TEST(StoredCases, AdmissionKeepsTheFilteredCasesWithTheJobAndTheyRunInOrder) {
  TempDir dir;
  const auto config = test_config(dir);
  std::string id;
  v1::GetJobResponse r;
  {
    InProcess server(config);
    Client c(server.port());
    ASSERT_TRUE(c.submit(tiny_spec(), &id, "\\|liger\\|").ok());
    r = c.wait(id);
  }
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  server::Store store(config.db());
  const auto kept = store.job_cases(id);
  ASSERT_TRUE(kept.has_value()) << "admission's expansion is stored with the job";
  ASSERT_EQ(kept->cases_size(), 1);
  EXPECT_EQ(kept->cases(0).provider(), "liger");
  ASSERT_EQ(r.result().cases_size(), 1);
  EXPECT_EQ(r.result().cases(0).spec().key(), kept->cases(0).key());
}

// The stored cases are what runs: here one of the spec's two, which a re-expansion of the spec
// would not give.
TEST(StoredCases, TheSchedulerRunsTheStoredCasesNotAReexpansion) {
  TempDir dir;
  const auto config = test_config(dir);
  const std::vector<v1::CaseSpec> all = expand_case_specs(tiny_spec(), {"cpu"});
  ASSERT_EQ(all.size(), 2u);
  {
    server::Store store(config.db());
    v1::Job job = queued_tiny_job("j-stored");
    job.set_total_cases(1);
    const v1::CaseSpecList only_liger = specs_of({all[1]});
    store.insert_job(job, queued_event(job), &only_liger);
  }
  InProcess server(config);
  Client c(server.port());
  const auto r = c.wait("j-stored");
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  EXPECT_EQ(r.job().total_cases(), 1);
  ASSERT_EQ(r.result().cases_size(), 1);
  EXPECT_EQ(r.result().cases(0).spec().key(), all[1].key());
}

// A job an older build stored has no cases: the scheduler expands its spec once (the same
// cases at the same indices that build ran), keeps them, and runs them.
TEST(StoredCases, AJobStoredWithoutCasesIsExpandedOnceAndRuns) {
  TempDir dir;
  const auto config = test_config(dir);
  {
    server::Store store(config.db());
    const v1::Job job = queued_tiny_job("j-old");
    store.insert_job(job, queued_event(job));
    EXPECT_FALSE(store.job_cases("j-old").has_value());
  }
  v1::GetJobResponse r;
  {
    InProcess server(config);
    Client c(server.port());
    r = c.wait("j-old");
  }
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  const std::vector<v1::CaseSpec> expected = expand_case_specs(tiny_spec(), {"cpu"});
  ASSERT_EQ(r.result().cases_size(), 2);
  server::Store store(config.db());
  const auto kept = store.job_cases("j-old");
  ASSERT_TRUE(kept.has_value()) << "the expansion is kept for a later resume";
  ASSERT_EQ(kept->cases_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(kept->cases(i).key(), expected[i].key());
    EXPECT_EQ(r.result().cases(i).spec().key(), expected[i].key());
  }
}

// A stored case whose kernel this build's registry no longer has fails the job, naming it.
TEST(StoredCases, AStoredCaseOfAKernelNoLongerRegisteredFailsTheJob) {
  TempDir dir;
  const auto config = test_config(dir);
  {
    server::Store store(config.db());
    v1::CaseSpec gone = expand_case_specs(tiny_spec(), {"cpu"}).at(0);
    gone.set_kernel("retired_kernel");
    gone.set_key("retired_kernel|T=4,H=8|fp32|forward|baseline||cpu");
    v1::Job job = queued_tiny_job("j-gone");
    job.set_total_cases(1);
    const v1::CaseSpecList cases = specs_of({gone});
    store.insert_job(job, queued_event(job), &cases);
  }
  InProcess server(config);
  Client c(server.port());
  const auto r = c.wait("j-gone");
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FAILED);
  EXPECT_NE(r.job().message().find("cannot expand the job: case 'retired_kernel|"), std::string::npos) << r.job().message();
  EXPECT_NE(r.job().message().find("no kernel 'retired_kernel'"), std::string::npos) << r.job().message();
  EXPECT_EQ(r.result().cases_size(), 0);
}

}  // namespace
