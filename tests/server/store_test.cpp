// The result store: a case event rewrites only the job's small header, never its spec; old
// databases (spec inside the job row) are moved to the new layout; its files are private.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "ligerbench/server/store.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;
using Clock = std::chrono::steady_clock;

v1::Job job_with_spec_of(std::size_t spec_bytes) {
  v1::Job job;
  job.set_id("j-store");
  *job.mutable_spec() = tiny_spec();
  (*job.mutable_spec()->mutable_labels())["padding"] = std::string(spec_bytes, 'x');
  job.add_devices("cpu");
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_total_cases(4000);
  return job;
}

v1::JobEvent state_change(const v1::Job& job, int64_t seq) {
  v1::JobEvent e;
  e.set_seq(seq);
  e.set_job_id(job.id());
  e.set_state_change(job.state());
  return e;
}

// Seconds to store 4000 case events of a job, as the scheduler does (the job without its spec).
double store_4000_case_events(server::Store& store, v1::Job job) {
  store.insert_job(job, state_change(job, 1));
  job.clear_spec();
  const auto t0 = Clock::now();
  for (int i = 0; i < 4000; ++i) {
    job.set_done_cases(i + 1);
    v1::JobEvent e;
    e.set_seq(i + 2);
    e.set_job_id(job.id());
    e.set_case_index(i);
    auto* r = e.mutable_case_result();
    r->mutable_spec()->set_key("debug_fault|N=" + std::to_string(i));
    r->set_ok(true);
    store.append_event(job, e);
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// length(job), length(spec) of the job's row, read with SQLite itself.
std::pair<int64_t, int64_t> row_sizes(const std::string& db_path, const std::string& id) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT length(job), length(spec) FROM jobs WHERE id = ?", -1, &s, nullptr);
  sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  std::pair<int64_t, int64_t> out{-1, -1};
  if (sqlite3_step(s) == SQLITE_ROW) out = {sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1)};
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

TEST(Store, ACaseEventCostsTheSameWhateverTheSpecSize) {
  TempDir dir;
  double seconds[2];
  const std::size_t sizes[2] = {4 << 10, 234 << 10};
  for (int k = 0; k < 2; ++k) {
    const std::string path = dir.file("s" + std::to_string(k) + ".db");
    {
      server::Store store(path);
      seconds[k] = store_4000_case_events(store, job_with_spec_of(sizes[k]));
      const auto back = store.get_job("j-store");
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(back->spec().labels().at("padding").size(), sizes[k]) << "the spec is kept whole";
      EXPECT_EQ(back->done_cases(), 4000);
      EXPECT_EQ(store.get_job("j-store", false)->has_spec(), false);
    }
    const auto [job_bytes, spec_bytes] = row_sizes(path, "j-store");
    EXPECT_LT(job_bytes, 1024) << "the job row holds only the header";
    EXPECT_GT(spec_bytes, static_cast<int64_t>(sizes[k]));
  }
  std::printf("[ store ] 4000 case events: %.2f s with a 4 KB spec, %.2f s with a 234 KB spec\n", seconds[0], seconds[1]);
  EXPECT_LT(seconds[1], 2 * seconds[0] + 1.0) << "the event cost grows with the spec";
}

TEST(Store, AnOldDatabaseWithTheSpecInTheJobRowIsMovedToItsOwnColumn) {
  TempDir dir;
  const std::string path = dir.file("old.db");
  v1::Job job = job_with_spec_of(100);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
                           "state INTEGER NOT NULL, priority INTEGER NOT NULL, job BLOB NOT NULL)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO jobs(id, state, priority, job) VALUES (?, 2, 0, ?)", -1, &s, nullptr);
    const std::string bytes = job.SerializeAsString();
    sqlite3_bind_text(s, 1, job.id().c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  {
    server::Store store(path);
    const auto back = store.get_job(job.id());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->spec().name(), "tiny");
    EXPECT_EQ(back->spec().labels().at("padding").size(), 100u);
    EXPECT_EQ(back->state(), v1::JOB_STATE_RUNNING);
    EXPECT_FALSE(store.cancel_requested(job.id()));
  }
  const auto [job_bytes, spec_bytes] = row_sizes(path, job.id());
  EXPECT_LT(job_bytes, 64) << "the spec left the job row";
  EXPECT_GT(spec_bytes, 100);
}

TEST(Store, ItsFilesAreTheServerUsersAlone) {
  TempDir dir;
  const std::string sub = dir.file("state"), path = sub + "/ligerbench.db";
  {
    server::Store store(path);
    v1::Job job = job_with_spec_of(10);
    store.insert_job(job, state_change(job, 1));  // the WAL file exists after a write
    struct stat st{};
    ASSERT_EQ(stat(sub.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u) << "the directory it created";
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(stat((path + "-wal").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  try {
    server::Store bad(dir.file("no/such/dir/x.db"));
    FAIL() << "a database under a missing directory tree was opened";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create its directory"), std::string::npos) << e.what();
  }
}

// A result stored before results carried their CaseSpec (its blob has none) is read back with a
// spec made from its row's columns, so a resumed job still pairs and compares by key.
TEST(Store, AResultStoredBeforeCaseSpecGetsItsNamesFromItsRow) {
  TempDir dir;
  const std::string path = dir.file("old.db");
  v1::Job job = job_with_spec_of(16);
  v1::CaseResult stored;
  {
    server::Store store(path);
    store.insert_job(job, state_change(job, 1));
    v1::JobEvent e;
    e.set_seq(2);
    e.set_job_id(job.id());
    e.set_case_index(0);
    v1::CaseSpec* c = e.mutable_case_result()->mutable_spec();
    c->set_key("rms_norm|T=8,H=64|fp32|forward|liger|eps=1e-6|cpu");
    c->set_kernel("rms_norm");
    c->set_provider("liger");
    c->set_mode("forward");
    c->set_dtype("fp32");
    c->set_shape_label("T=8,H=64");
    c->set_device("cpu");
    e.mutable_case_result()->set_ok(true);
    stored = e.case_result();
    store.append_event(job, e);
  }
  {
    // The blob as an older server wrote it: the identity was not in a spec.
    v1::CaseResult old = stored;
    old.clear_spec();
    const std::string blob = old.SerializeAsString();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "UPDATE case_results SET result = ? WHERE job_id = ?", -1, &s, nullptr);
    sqlite3_bind_blob(s, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, job.id().c_str(), -1, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  server::Store store(path);
  const auto results = store.results(job.id());
  ASSERT_EQ(results.size(), 1u);
  const v1::CaseSpec& back = results.at(0).spec();
  EXPECT_EQ(back.key(), stored.spec().key());
  EXPECT_EQ(back.kernel(), "rms_norm");
  EXPECT_EQ(back.provider(), "liger");
  EXPECT_EQ(back.mode(), "forward");
  EXPECT_EQ(back.dtype(), "fp32");
  EXPECT_EQ(back.shape_label(), "T=8,H=64");
  EXPECT_EQ(back.device(), "cpu");
  EXPECT_TRUE(results.at(0).ok());
}

}  // namespace
