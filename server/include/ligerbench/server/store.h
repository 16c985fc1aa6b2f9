#pragma once
// The result store: one SQLite file (WAL) with jobs, their events and every CaseResult. Messages
// are stored as serialized protos beside the columns that queries need, so the schema stays the
// proto schema. A job's spec is written once, in a column of its own: the many updates of a
// running job rewrite only its small header, so their cost does not grow with the spec. The job's
// cases (CaseSpecs, as admission expanded them) are written once beside it too. Every change of a job is one transaction with its event, so a killed server
// never leaves a result without its event or a job count that disagrees with its results.
#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ligerbench/v1/service.pb.h"

namespace ligerbench::server {

class Store {
 public:
  explicit Store(const std::string& path);  // creates the file and tables when missing
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inserts a new job together with its first event and its cases (admission's expansion, in
  // index order), written once in a column of their own. nullptr stores none, as a build before
  // CaseSpecs did: the scheduler then expands the spec itself (keep_cases).
  void insert_job(const v1::Job& job, const v1::JobEvent& event, const v1::CaseSpecList* cases = nullptr);
  // Records an event and the job as it is after it; a case event also stores its CaseResult.
  void append_event(const v1::Job& job, const v1::JobEvent& event);

  // The job; without its spec (read from a column of its own) when with_spec is false.
  std::optional<v1::Job> get_job(const std::string& id, bool with_spec = true);
  std::optional<v1::JobState> job_state(const std::string& id);
  // The job's stored cases; nullopt when it has none (stored by an older build) or is unknown.
  std::optional<v1::CaseSpecList> job_cases(const std::string& id);
  // Stores the cases of a job that has none yet (an older build's job, expanded on resume).
  void keep_cases(const std::string& id, const v1::CaseSpecList& cases);
  // A cancel of a running job, kept apart from the job row (which its runner rewrites), so that
  // a server that dies before the job stops does not resume it.
  void request_cancel(const std::string& id);
  bool cancel_requested(const std::string& id);
  std::vector<v1::JobEvent> events_after(const std::string& id, int64_t after_seq);
  int64_t last_seq(const std::string& id);
  // Stored case results of a job: case index -> result.
  std::map<int, v1::CaseResult> results(const std::string& id);
  // Jobs in any of `states`, oldest first (recovery and the queue).
  std::vector<v1::Job> jobs_in_states(const std::vector<v1::JobState>& states);
  // Newest first, starting below `before_seq` (0: from the newest); fills *next_seq with the seq
  // to continue from, or 0 on the last page.
  std::vector<v1::Job> list_jobs(int64_t before_seq, const std::vector<v1::JobState>& states,
                                 const std::map<std::string, std::string>& labels, int limit, int64_t* next_seq);

 private:
  void exec(const char* sql);
  // Runs body in one transaction: committed when it returns, rolled back when it throws.
  template <typename F>
  void transaction(F&& body);
  // The first row of `sql` (its one parameter a job id) through read(statement); nullopt: none.
  template <typename T, typename Read>
  std::optional<T> job_row(const char* sql, const std::string& id, Read read);
  static std::string job_bytes(const v1::Job& job);
  void write_job_row(const v1::Job& job, bool insert, const v1::CaseSpecList* cases);
  void migrate_columns();
  void write_event_row(const v1::JobEvent& event);

  std::mutex mu_;
  sqlite3* db_ = nullptr;
};

}  // namespace ligerbench::server
