#include "ligerbench/server/scheduler.h"

#include "ligerbench/runner.h"

namespace ligerbench::server {
namespace {

using Clock = std::chrono::steady_clock;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

// The case as a one-point sweep: the worker expands it back into exactly this case.
v1::WorkerRequest case_request(const Case& c, const v1::MeasurementOptions& m) {
  v1::WorkerRequest req;
  auto* rc = req.mutable_run_case();
  auto* sweep = rc->mutable_sweep();
  sweep->set_kernel(c.spec->name);
  for (const auto& [axis, value] : c.config.shape) (*sweep->mutable_shape())[axis].add_values(value);
  sweep->add_dtypes(dtype_name(c.config.dtype));
  sweep->add_modes(mode_name(c.mode));
  sweep->add_providers(provider_name(c.provider));
  for (const auto& [k, v] : c.config.params) (*sweep->mutable_params())[k] = v;
  rc->set_device(c.config.device.str());
  *rc->mutable_measurement() = m;
  rc->set_key(c.key);
  return req;
}

v1::JobEvent state_event(v1::JobState s, const std::string& message) {
  v1::JobEvent e;
  e.set_state_change(s);
  e.set_message(message);
  return e;
}

}  // namespace

Scheduler::Scheduler(Store& store, Events& events, Metrics& metrics, WorkerPool& pool, v1::NodeInfo node)
    : store_(store), events_(events), metrics_(metrics), pool_(pool), node_(std::move(node)) {}

Scheduler::~Scheduler() { stop(0); }

void Scheduler::start() {
  std::lock_guard<std::mutex> lock(mu_);
  for (v1::Job job : store_.jobs_in_states({v1::JOB_STATE_RUNNING, v1::JOB_STATE_QUEUED})) {
    if (job.state() == v1::JOB_STATE_RUNNING) {
      job.set_state(v1::JOB_STATE_QUEUED);
      job.set_message("re-queued after a server restart; its " + std::to_string(job.done_cases()) +
                      " finished cases are kept");
      events_.publish(job, state_event(v1::JOB_STATE_QUEUED, job.message()));
    }
    enqueue_locked(job);
  }
  metrics_.queue_depth(static_cast<int>(queue_.size()));
  started_ = true;
  dispatcher_ = std::thread([this] { dispatch_loop(); });
}

void Scheduler::enqueue_locked(const v1::Job& job) {
  queue_.insert(QueueItem{job.spec().priority(), next_order_++, job.id(),
                          std::vector<std::string>(job.devices().begin(), job.devices().end()), Clock::now()});
}

void Scheduler::submit(v1::Job job) {
  job.set_state(v1::JOB_STATE_QUEUED);
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.create(job, "queued");
    enqueue_locked(job);
    metrics_.queue_depth(static_cast<int>(queue_.size()));
  }
  metrics_.job_entered(v1::JOB_STATE_QUEUED);
  cv_.notify_all();
}

Scheduler::CancelOutcome Scheduler::cancel(const std::string& id, v1::JobState* state) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->id != id) continue;
    queue_.erase(it);
    metrics_.queue_depth(static_cast<int>(queue_.size()));
    v1::Job job = *store_.get_job(id);
    job.set_state(v1::JOB_STATE_CANCELLED);
    job.set_finished_at(now_rfc3339());
    job.set_message("cancelled before it started");
    events_.publish(job, state_event(v1::JOB_STATE_CANCELLED, job.message()));
    metrics_.job_entered(v1::JOB_STATE_CANCELLED);
    *state = v1::JOB_STATE_CANCELLED;
    return CancelOutcome::kCancelled;
  }
  if (auto it = running_.find(id); it != running_.end()) {
    it->second->cancel = true;
    *state = v1::JOB_STATE_RUNNING;
    return CancelOutcome::kCancelling;
  }
  const auto job = store_.get_job(id);
  if (!job) return CancelOutcome::kNotFound;
  *state = job->state();
  return CancelOutcome::kAlreadyFinished;
}

int Scheduler::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

int Scheduler::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(running_.size());
}

void Scheduler::dispatch_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!finished_threads_.empty()) {
      auto done = std::move(finished_threads_);
      finished_threads_.clear();
      lock.unlock();
      for (auto& t : done) t.join();
      lock.lock();
      continue;
    }
    if (stopping_) return;
    // The first job in priority order whose devices are all free.
    auto pick = queue_.end();
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      bool free = true;
      for (const auto& d : it->devices) free = free && busy_devices_.count(d) == 0;
      if (free) {
        pick = it;
        break;
      }
    }
    if (pick == queue_.end()) {
      cv_.wait(lock);
      continue;
    }
    auto rj = std::make_unique<RunningJob>();
    rj->item = *pick;
    queue_.erase(pick);
    metrics_.queue_depth(static_cast<int>(queue_.size()));
    for (const auto& d : rj->item.devices) busy_devices_.insert(d);
    RunningJob* raw = rj.get();
    running_[raw->item.id] = std::move(rj);
    raw->thread = std::thread([this, raw] { run_job(raw); });
  }
}

void Scheduler::finish_running(RunningJob* rj) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& d : rj->item.devices) busy_devices_.erase(d);
    auto node = running_.extract(rj->item.id);
    finished_threads_.push_back(std::move(node.mapped()->thread));
  }  // rj is gone from here on
  cv_.notify_all();
}

void Scheduler::run_job(RunningJob* rj) {
  const std::string key = join(rj->item.devices);
  auto worker = pool_.acquire(key);
  {
    std::lock_guard<std::mutex> lock(mu_);
    rj->worker = worker.get();
  }
  std::optional<v1::Job> job = store_.get_job(rj->item.id);
  if (job) {
    metrics_.job_started(std::chrono::duration<double>(Clock::now() - rj->item.enqueued).count());
    const auto t0 = Clock::now();
    if (run_cases(rj, *job, *worker))
      metrics_.job_finished(job->state(), std::chrono::duration<double>(Clock::now() - t0).count());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    rj->worker = nullptr;
  }
  pool_.release(key, std::move(worker));
  finish_running(rj);
}

bool Scheduler::run_cases(RunningJob* rj, v1::Job& job, Worker& worker) {
  const std::vector<std::string> devices(job.devices().begin(), job.devices().end());
  std::vector<Case> cases;
  try {
    cases = select_cases(job.spec(), devices, job.filter());
  } catch (const std::exception& e) {
    job.set_state(v1::JOB_STATE_FAILED);
    job.set_message(std::string("cannot expand the job: ") + e.what());
    job.set_finished_at(now_rfc3339());
    events_.publish(job, state_event(job.state(), job.message()));
    return true;
  }
  // A resumed job keeps its finished cases; its liger rows still pair with stored baselines.
  const std::map<int, v1::CaseResult> stored = store_.results(job.id());
  PairDeriver pairs;
  for (const auto& [i, r] : stored)
    if (i < static_cast<int>(cases.size())) {
      v1::CaseResult copy = r;
      pairs.apply(cases[i], copy);
    }
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_attempts(job.attempts() + 1);
  if (job.started_at().empty()) job.set_started_at(now_rfc3339());
  job.set_total_cases(static_cast<int>(cases.size()));
  job.set_message(stored.empty() ? "" : "resumed; " + std::to_string(stored.size()) + " cases were already done");
  events_.publish(job, state_event(v1::JOB_STATE_RUNNING, job.message()));

  const auto start = Clock::now();
  const auto deadline = job.timeout_s() > 0
                            ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(job.timeout_s()))
                            : start + std::chrono::hours(24 * 365);
  v1::JobState final_state = v1::JOB_STATE_FINISHED;
  std::string final_message;
  for (int i = 0; i < static_cast<int>(cases.size()); ++i) {
    if (stored.count(i)) continue;
    if (stopping_) break;
    if (rj->cancel) {
      final_state = v1::JOB_STATE_CANCELLED;
      final_message = "cancelled by a client after " + std::to_string(job.done_cases()) + " cases";
      break;
    }
    if (Clock::now() >= deadline) {
      final_state = v1::JOB_STATE_TIMED_OUT;
      final_message = "the job's timeout of " + std::to_string(job.timeout_s()) + " s expired";
      break;
    }
    const Case& c = cases[i];
    Worker::Outcome out = worker.call(case_request(c, job.spec().measurement()), deadline);
    if (!out.ok && out.killed && stopping_) break;  // shutdown: this case runs again after the restart
    v1::CaseResult r;
    if (out.ok && out.response.has_case_result()) {
      r = out.response.case_result();
      if (out.response.exiting()) {
        r.set_error(r.error() + " (the worker was replaced: this error leaves the CUDA context unusable)");
        metrics_.worker_restarted();
      }
    } else {
      r = case_identity(c);
      r.set_ok(false);
      if (out.ok) {
        r.set_error("worker: " + out.response.error());
      } else if (out.timed_out) {
        r.set_error("the job's timeout of " + std::to_string(job.timeout_s()) + " s expired during this case; " +
                    out.failure);
      } else {
        r.set_error("the case crashed its worker: " + out.failure);
        metrics_.worker_restarted();
      }
    }
    pairs.apply(c, r);
    job.set_done_cases(job.done_cases() + 1);
    if (case_failed(r)) job.set_failed_cases(job.failed_cases() + 1);
    metrics_.case_finished(r);
    v1::JobEvent e;
    *e.mutable_case_result() = std::move(r);
    e.set_case_index(i);
    events_.publish(job, std::move(e));
    if (out.timed_out) {
      final_state = v1::JOB_STATE_TIMED_OUT;
      final_message = "the job's timeout of " + std::to_string(job.timeout_s()) + " s expired";
      break;
    }
  }
  if (stopping_ && final_state == v1::JOB_STATE_FINISHED && job.done_cases() < job.total_cases()) {
    job.set_state(v1::JOB_STATE_QUEUED);
    job.set_message("re-queued: the server stopped; " + std::to_string(job.done_cases()) + " finished cases are kept");
    events_.publish(job, state_event(v1::JOB_STATE_QUEUED, job.message()));
    return false;
  }
  job.set_state(final_state);
  job.set_message(final_message);
  job.set_finished_at(now_rfc3339());
  events_.publish(job, state_event(final_state, final_message));
  return true;
}

void Scheduler::stop(double grace_s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  std::unique_lock<std::mutex> lock(mu_);
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(grace_s));
  cv_.wait_until(lock, until, [&] { return running_.empty(); });
  for (auto& [id, rj] : running_)
    if (rj->worker) rj->worker->kill();
  cv_.wait(lock, [&] { return running_.empty(); });
  auto done = std::move(finished_threads_);
  finished_threads_.clear();
  lock.unlock();
  for (auto& t : done) t.join();
  pool_.clear();
}

}  // namespace ligerbench::server
