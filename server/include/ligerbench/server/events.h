#pragma once
// Job events: numbered per job, stored, then handed to the watchers of that job. Storing and
// notifying happen under one lock, so a watcher that subscribes with "after seq N" gets every
// later event exactly once, whether it was stored before or after it subscribed.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "ligerbench/server/store.h"
#include "ligerbench/timestamps.h"

namespace ligerbench::server {

class Events {
 public:
  using Callback = std::function<void(const v1::JobEvent&)>;

  explicit Events(Store& store) : store_(store) {}

  // Creates the job in the store with its first event (state QUEUED) and its cases.
  void create(const v1::Job& job, const v1::CaseSpecList& cases, const std::string& message);
  // Stores `job` (already updated) with the next event of it; `event` carries the payload
  // (state_change or case_result); seq, job_id, time, state and the counts are filled in here.
  void publish(const v1::Job& job, v1::JobEvent event);

  // Calls cb for every stored event after `after_seq`, then for every new one until
  // unsubscribe. cb runs under the bus lock: it must not block or call back into Events.
  // *ended says whether the job had already ended (or does not exist): then no new event comes.
  int subscribe(const std::string& job_id, int64_t after_seq, Callback cb, bool* ended);
  void unsubscribe(int id);

 private:
  void fill(const v1::Job& job, v1::JobEvent& e);

  Store& store_;
  std::mutex mu_;
  std::map<std::string, int64_t> last_seq_;  // job id -> last stored seq
  struct Sub {
    std::string job_id;
    Callback cb;
  };
  std::map<int, Sub> subs_;
  int next_sub_ = 1;
};

}  // namespace ligerbench::server
