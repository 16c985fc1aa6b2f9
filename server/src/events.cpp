#include "ligerbench/server/events.h"

#include <ctime>

namespace ligerbench::server {

std::string now_rfc3339() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[48];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", ts.tv_nsec / 1000000);
  return buf;
}

void Events::fill(const v1::Job& job, v1::JobEvent& e) {
  auto it = last_seq_.find(job.id());
  if (it == last_seq_.end()) it = last_seq_.emplace(job.id(), store_.last_seq(job.id())).first;
  e.set_seq(++it->second);
  e.set_job_id(job.id());
  e.set_time(now_rfc3339());
  e.set_state(job.state());
  e.set_done_cases(job.done_cases());
  e.set_total_cases(job.total_cases());
}

void Events::create(const v1::Job& job, const v1::CaseSpecList& cases, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::JobEvent e;
  e.set_state_change(job.state());
  e.set_message(message);
  last_seq_[job.id()] = 0;
  fill(job, e);
  store_.insert_job(job, e, &cases);
}

void Events::publish(const v1::Job& job, v1::JobEvent e) {
  std::lock_guard<std::mutex> lock(mu_);
  fill(job, e);
  try {
    store_.append_event(job, e);
  } catch (...) {
    --last_seq_[job.id()];
    throw;
  }
  const bool final = e.has_state_change() && job.state() != v1::JOB_STATE_QUEUED && job.state() != v1::JOB_STATE_RUNNING;
  for (auto& [id, sub] : subs_)
    if (sub.job_id == job.id()) sub.cb(e);
  if (final) last_seq_.erase(job.id());  // a finished job gets no more events
}

int Events::subscribe(const std::string& job_id, int64_t after_seq, Callback cb, bool* ended) {
  std::lock_guard<std::mutex> lock(mu_);
  // Under the bus lock no event is being published: a job that has ended now gets no more.
  const auto state = store_.job_state(job_id);
  *ended = !state || (*state != v1::JOB_STATE_QUEUED && *state != v1::JOB_STATE_RUNNING);
  for (const auto& e : store_.events_after(job_id, after_seq)) cb(e);
  const int id = next_sub_++;
  subs_[id] = Sub{job_id, std::move(cb)};
  return id;
}

void Events::unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  subs_.erase(id);
}

}  // namespace ligerbench::server
