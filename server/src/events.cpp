#include "ligerbench/server/events.h"

#include "ligerbench/job_state.h"

namespace ligerbench::server {

void Events::fill(const v1::Job& job, v1::JobEvent& e) {
  auto it = last_seq_.find(job.id());
  if (it == last_seq_.end()) it = last_seq_.emplace(job.id(), store_.last_seq(job.id())).first;
  e.set_seq(++it->second);
  e.set_job_id(job.id());
  e.set_time(now_rfc3339_ms());
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
  const bool final = e.has_state_change() && is_final(job.state());
  for (auto& [id, sub] : subs_)
    if (sub.job_id == job.id()) sub.cb(e);
  if (final) last_seq_.erase(job.id());  // a finished job gets no more events
}

int Events::subscribe(const std::string& job_id, int64_t after_seq, Callback cb, bool* ended) {
  std::lock_guard<std::mutex> lock(mu_);
  // Under the bus lock no event is being published: a job that has ended now gets no more.
  const auto state = store_.job_state(job_id);
  *ended = !state || is_final(*state);
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
