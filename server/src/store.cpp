#include "ligerbench/server/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ligerbench::server {
namespace {

// A prepared statement that finalizes itself; errors name the statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail(sql);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& text(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& blob(int i, const std::string& v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& integer(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("step");
  }
  int64_t col_int(int i) { return sqlite3_column_int64(s_, i); }
  std::string col_text(int i) {
    const unsigned char* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, i))) : "";
  }
  std::string col_blob(int i) {
    const void* p = sqlite3_column_blob(s_, i);
    return std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, i)));
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("sqlite: " + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

template <typename M>
M parse(const std::string& bytes) {
  M m;
  if (!m.ParseFromString(bytes)) throw std::runtime_error("store: corrupt " + m.GetDescriptor()->name() + " row");
  return m;
}

std::string in_list(const std::vector<v1::JobState>& states) {
  std::string s;
  for (auto st : states) s += (s.empty() ? "" : ",") + std::to_string(static_cast<int>(st));
  return s;
}

// The database holds every job and result: its files are the server user's alone (0600, and
// the directory 0700 when it is created here). SQLite gives its -wal and -shm files the mode of
// the database file.
void create_private(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0 && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      throw std::runtime_error("database '" + path + "': cannot create its directory: " + std::strerror(errno));
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("database '" + path + "': " + std::strerror(errno));
  ::close(fd);
}

}  // namespace

Store::Store(const std::string& path) {
  create_private(path);
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("database '" + path + "': " + why);
  }
  sqlite3_busy_timeout(db_, 5000);
  // WAL: readers never block the writer. synchronous=NORMAL keeps every committed transaction
  // through a crash of this process (SIGKILL); only a power loss may drop the last commits.
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=ON");
  exec(R"(CREATE TABLE IF NOT EXISTS jobs (
           seq INTEGER PRIMARY KEY AUTOINCREMENT,
           id TEXT NOT NULL UNIQUE,
           state INTEGER NOT NULL,
           priority INTEGER NOT NULL,
           job BLOB NOT NULL,
           spec BLOB,
           cases BLOB,
           cancel_requested INTEGER NOT NULL DEFAULT 0))");
  migrate_columns();
  exec("CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state)");
  exec(R"(CREATE TABLE IF NOT EXISTS events (
           job_id TEXT NOT NULL REFERENCES jobs(id),
           seq INTEGER NOT NULL,
           event BLOB NOT NULL,
           PRIMARY KEY (job_id, seq)) WITHOUT ROWID)");
  exec(R"(CREATE TABLE IF NOT EXISTS case_results (
           job_id TEXT NOT NULL REFERENCES jobs(id),
           idx INTEGER NOT NULL,
           key TEXT NOT NULL,
           kernel TEXT NOT NULL,
           provider TEXT NOT NULL,
           mode TEXT NOT NULL,
           dtype TEXT NOT NULL,
           shape TEXT NOT NULL,
           device TEXT NOT NULL,
           ok INTEGER NOT NULL,
           result BLOB NOT NULL,
           PRIMARY KEY (job_id, idx)) WITHOUT ROWID)");
  exec("CREATE INDEX IF NOT EXISTS case_results_key ON case_results(key)");
}

Store::~Store() { sqlite3_close(db_); }

void Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(std::string("sqlite: ") + sql + ": " + why);
  }
}

template <typename F>
void Store::transaction(F&& body) {
  exec("BEGIN IMMEDIATE");
  try {
    body();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

// The job row without its spec, which has a column of its own written once.
std::string Store::job_bytes(const v1::Job& job) {
  if (!job.has_spec()) return job.SerializeAsString();
  v1::Job header;
  header.CopyFrom(job);
  header.clear_spec();
  return header.SerializeAsString();
}

void Store::write_job_row(const v1::Job& job, bool insert, const v1::CaseSpecList* cases) {
  if (insert) {
    Stmt s(db_, "INSERT INTO jobs(id, state, priority, job, spec, cases) VALUES (?, ?, ?, ?, ?, ?)");
    s.text(1, job.id())
        .integer(2, job.state())
        .integer(3, job.spec().priority())
        .blob(4, job_bytes(job))
        .blob(5, job.spec().SerializeAsString());
    if (cases != nullptr) s.blob(6, cases->SerializeAsString());  // unbound: NULL
    s.step();
  } else {
    Stmt(db_, "UPDATE jobs SET state = ?, job = ? WHERE id = ?")
        .integer(1, job.state())
        .blob(2, job_bytes(job))
        .text(3, job.id())
        .step();
  }
}

// Databases from before the spec column kept the spec inside the job blob: move it out once.
// Databases from before the cases column get it empty (NULL): their jobs are expanded on resume.
void Store::migrate_columns() {
  bool has_spec = false, has_cases = false, has_cancel = false;
  {
    Stmt info(db_, "PRAGMA table_info(jobs)");
    while (info.step()) {
      const std::string col = info.col_text(1);
      has_spec = has_spec || col == "spec";
      has_cases = has_cases || col == "cases";
      has_cancel = has_cancel || col == "cancel_requested";
    }
  }
  if (!has_spec) exec("ALTER TABLE jobs ADD COLUMN spec BLOB");
  if (!has_cases) exec("ALTER TABLE jobs ADD COLUMN cases BLOB");
  if (!has_cancel) exec("ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0");
  transaction([&] {
    std::vector<std::pair<std::string, v1::Job>> old;
    {
      Stmt s(db_, "SELECT id, job FROM jobs WHERE spec IS NULL");
      while (s.step()) old.emplace_back(s.col_text(0), parse<v1::Job>(s.col_blob(1)));
    }
    for (const auto& [id, job] : old)
      Stmt(db_, "UPDATE jobs SET job = ?, spec = ? WHERE id = ?")
          .blob(1, job_bytes(job))
          .blob(2, job.spec().SerializeAsString())
          .text(3, id)
          .step();
  });
}

void Store::write_event_row(const v1::JobEvent& e) {
  Stmt(db_, "INSERT INTO events(job_id, seq, event) VALUES (?, ?, ?)")
      .text(1, e.job_id())
      .integer(2, e.seq())
      .blob(3, e.SerializeAsString())
      .step();
  if (e.has_case_result()) {
    const auto& r = e.case_result();
    const v1::CaseSpec& c = r.spec();
    Stmt(db_, R"(INSERT OR REPLACE INTO case_results(job_id, idx, key, kernel, provider, mode, dtype, shape, device, ok, result)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))")
        .text(1, e.job_id())
        .integer(2, e.case_index())
        .text(3, c.key())
        .text(4, c.kernel())
        .text(5, c.provider())
        .text(6, c.mode())
        .text(7, c.dtype())
        .text(8, c.shape_label())
        .text(9, c.device())
        .integer(10, r.ok() ? 1 : 0)
        .blob(11, r.SerializeAsString())
        .step();
  }
}

void Store::insert_job(const v1::Job& job, const v1::JobEvent& event, const v1::CaseSpecList* cases) {
  std::lock_guard<std::mutex> lock(mu_);
  transaction([&] {
    write_job_row(job, true, cases);
    write_event_row(event);
  });
}

void Store::append_event(const v1::Job& job, const v1::JobEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  transaction([&] {
    write_job_row(job, false, nullptr);
    write_event_row(event);
  });
}

template <typename T, typename Read>
std::optional<T> Store::job_row(const char* sql, const std::string& id, Read read) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, sql);
  s.text(1, id);
  if (!s.step()) return std::nullopt;
  return read(s);
}

std::optional<v1::Job> Store::get_job(const std::string& id, bool with_spec) {
  return job_row<v1::Job>(with_spec ? "SELECT job, spec FROM jobs WHERE id = ?" : "SELECT job FROM jobs WHERE id = ?", id,
                          [&](Stmt& s) {
                            v1::Job job = parse<v1::Job>(s.col_blob(0));
                            if (with_spec) *job.mutable_spec() = parse<v1::JobSpec>(s.col_blob(1));
                            return job;
                          });
}

std::optional<v1::JobState> Store::job_state(const std::string& id) {
  return job_row<v1::JobState>("SELECT state FROM jobs WHERE id = ?", id,
                               [](Stmt& s) { return static_cast<v1::JobState>(s.col_int(0)); });
}

std::optional<v1::CaseSpecList> Store::job_cases(const std::string& id) {
  return job_row<v1::CaseSpecList>("SELECT cases FROM jobs WHERE id = ? AND cases IS NOT NULL", id,
                                   [](Stmt& s) { return parse<v1::CaseSpecList>(s.col_blob(0)); });
}

void Store::keep_cases(const std::string& id, const v1::CaseSpecList& cases) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt(db_, "UPDATE jobs SET cases = ? WHERE id = ? AND cases IS NULL").blob(1, cases.SerializeAsString()).text(2, id).step();
}

void Store::request_cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt(db_, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?").text(1, id).step();
}

bool Store::cancel_requested(const std::string& id) {
  return job_row<bool>("SELECT cancel_requested FROM jobs WHERE id = ?", id, [](Stmt& s) { return s.col_int(0) != 0; })
      .value_or(false);
}

std::vector<v1::JobEvent> Store::events_after(const std::string& id, int64_t after_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT event FROM events WHERE job_id = ? AND seq > ? ORDER BY seq");
  s.text(1, id).integer(2, after_seq);
  std::vector<v1::JobEvent> out;
  while (s.step()) out.push_back(parse<v1::JobEvent>(s.col_blob(0)));
  return out;
}

int64_t Store::last_seq(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT COALESCE(MAX(seq), 0) FROM events WHERE job_id = ?");
  s.text(1, id);
  s.step();
  return s.col_int(0);
}

std::map<int, v1::CaseResult> Store::results(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "SELECT idx, result, key, kernel, provider, mode, dtype, shape, device FROM case_results WHERE job_id = ? "
         "ORDER BY idx");
  s.text(1, id);
  std::map<int, v1::CaseResult> out;
  while (s.step()) {
    v1::CaseResult r = parse<v1::CaseResult>(s.col_blob(1));
    if (!r.has_spec()) {
      // Stored before results carried their CaseSpec: the row's columns still name the case (its
      // key, on which resumed pairs and compare match; shape axes and params are in the key only).
      v1::CaseSpec* c = r.mutable_spec();
      c->set_key(s.col_text(2));
      c->set_kernel(s.col_text(3));
      c->set_provider(s.col_text(4));
      c->set_mode(s.col_text(5));
      c->set_dtype(s.col_text(6));
      c->set_shape_label(s.col_text(7));
      c->set_device(s.col_text(8));
    }
    out[static_cast<int>(s.col_int(0))] = std::move(r);
  }
  return out;
}

std::vector<v1::Job> Store::jobs_in_states(const std::vector<v1::JobState>& states) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, ("SELECT job, spec FROM jobs WHERE state IN (" + in_list(states) + ") ORDER BY seq").c_str());
  std::vector<v1::Job> out;
  while (s.step()) {
    out.push_back(parse<v1::Job>(s.col_blob(0)));
    *out.back().mutable_spec() = parse<v1::JobSpec>(s.col_blob(1));
  }
  return out;
}

std::vector<v1::Job> Store::list_jobs(int64_t before_seq, const std::vector<v1::JobState>& states,
                                      const std::map<std::string, std::string>& labels, int limit, int64_t* next_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = "SELECT seq, job, spec FROM jobs WHERE seq < ?";
  if (!states.empty()) sql += " AND state IN (" + in_list(states) + ")";
  sql += " ORDER BY seq DESC";
  Stmt s(db_, sql.c_str());
  s.integer(1, before_seq > 0 ? before_seq : INT64_MAX);
  std::vector<v1::Job> out;
  *next_seq = 0;
  while (s.step()) {
    // Labels live inside the spec: filter here rather than in SQL.
    v1::Job job = parse<v1::Job>(s.col_blob(1));
    *job.mutable_spec() = parse<v1::JobSpec>(s.col_blob(2));
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = job.spec().labels().find(k);
      match = match && it != job.spec().labels().end() && it->second == v;
    }
    if (!match) continue;
    if (static_cast<int>(out.size()) == limit) {
      *next_seq = out.empty() ? 0 : s.col_int(0) + 1;
      break;
    }
    out.push_back(std::move(job));
  }
  return out;
}

}  // namespace ligerbench::server
