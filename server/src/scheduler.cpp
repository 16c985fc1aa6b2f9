#include "ligerbench/server/scheduler.h"

#include <cstdio>

#include "ligerbench/runner.h"

namespace ligerbench::server {
namespace {

using Clock = std::chrono::steady_clock;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

v1::JobEvent state_event(v1::JobState s, const std::string& message) {
  v1::JobEvent e;
  e.set_state_change(s);
  e.set_message(message);
  return e;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

// The job's cases that have no result, into job.skipped_cases; returns how many. The
// distributed cases follow the ordinary ones in case order.
int list_skipped(v1::Job& job, const v1::CaseSpecList& cases, const std::vector<DistributedCase>& distributed,
                 const std::set<int>& done) {
  job.clear_skipped_cases();
  const int n = cases.cases_size();
  for (int i = 0; i < n; ++i)
    if (!done.count(i)) job.add_skipped_cases(cases.cases(i).key());
  for (int i = 0; i < static_cast<int>(distributed.size()); ++i)
    if (!done.count(n + i)) job.add_skipped_cases(distributed[i].identity.spec().key());
  return job.skipped_cases_size();
}

std::string never_ran(int n) {
  return n == 0 ? "" : "; " + std::to_string(n) + (n == 1 ? " case never ran" : " cases never ran") + " (skipped_cases)";
}

}  // namespace

v1::WorkerRequest case_request(const Case& c, const v1::MeasurementOptions& m) {
  v1::WorkerRequest req;
  auto* rc = req.mutable_run_case();
  *rc->mutable_spec() = c.case_spec;
  *rc->mutable_measurement() = m;
  return req;
}

double CaseLimits::for_options(const v1::MeasurementOptions& m) const {
  const double derived = margin_s + 3 * resolve_options(m).timeout_s;
  return derived < max_s ? derived : max_s;  // a NaN or infinite timeout_s gets the maximum
}

Scheduler::Scheduler(Store& store, Events& events, Metrics& metrics, WorkerPool& pool, v1::NodeInfo node,
                     CaseLimits case_limits, LaunchOptions launch)
    : store_(store),
      events_(events),
      metrics_(metrics),
      pool_(pool),
      node_(std::move(node)),
      case_limits_(case_limits),
      launch_(std::move(launch)) {}

v1::CaseResult Scheduler::run_distributed(RunningJob* rj, const DistributedCase& c) {
  LaunchOptions o = launch_;
  o.stop = [this, rj] { return rj->cancel.load() || stopping_.load(); };
  return run_distributed_case(c, o);
}

Scheduler::~Scheduler() { stop(0); }

void Scheduler::start() {
  std::lock_guard<std::mutex> lock(mu_);
  for (v1::Job job : store_.jobs_in_states({v1::JOB_STATE_RUNNING, v1::JOB_STATE_QUEUED})) {
    if (store_.cancel_requested(job.id())) {
      finish_cancelled_after_restart(std::move(job));
      continue;
    }
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

v1::CaseSpecList Scheduler::cases_of(const v1::Job& job) {
  if (auto stored = store_.job_cases(job.id())) return *std::move(stored);
  // A job stored by a build before the store kept admission's expansion: expanded here, once,
  // as that build's admission would have (same devices, same filter, so the same indices as its
  // stored results), and kept, so that a later resume reads them too.
  v1::CaseSpecList cases;
  for (auto& c : select_case_specs(job.spec(), std::vector<std::string>(job.devices().begin(), job.devices().end()),
                                   job.filter()))
    *cases.add_cases() = std::move(c);
  store_.keep_cases(job.id(), cases);
  return cases;
}

// Distributed sweeps are no CaseSpecs (a case is its ranks' tasks): admission expanded them to
// check and count them, and they are expanded again here, from the stored spec, with the same
// devices and filter, so their indices (after the ordinary cases) stay the same.
std::vector<DistributedCase> Scheduler::distributed_of(const v1::Job& job) {
  return expand_distributed(job.spec(), std::vector<std::string>(job.devices().begin(), job.devices().end()), 0,
                            job.filter(), "spec");
}

void Scheduler::finish_cancelled_after_restart(v1::Job job) {
  std::set<int> done;
  for (const auto& [i, r] : store_.results(job.id())) done.insert(i);
  v1::CaseSpecList cases;
  std::vector<DistributedCase> distributed;
  try {
    cases = cases_of(job);
    distributed = distributed_of(job);
  } catch (const std::exception&) {
    // It could not run anyway; it ends without a list of what it skipped.
  }
  job.clear_spec();
  const int skipped = list_skipped(job, cases, distributed, done);
  job.set_state(v1::JOB_STATE_CANCELLED);
  job.set_finished_at(now_rfc3339_ms());
  job.set_message("cancelled by a client; the server stopped before the job did" + never_ran(skipped));
  events_.publish(job, state_event(v1::JOB_STATE_CANCELLED, job.message()));
  metrics_.job_entered(v1::JOB_STATE_CANCELLED);
}

void Scheduler::enqueue_locked(const v1::Job& job) {
  queue_.insert(QueueItem{job.spec().priority(), next_order_++, job.id(),
                          std::vector<std::string>(job.devices().begin(), job.devices().end()), Clock::now()});
}

void Scheduler::submit(v1::Job job, const v1::CaseSpecList& cases) {
  job.set_state(v1::JOB_STATE_QUEUED);
  int ahead = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ahead = static_cast<int>(queue_.size() + running_.size());
  }
  // Stored outside the lock: a large job's spec and cases are megabytes, and GetNodeInfo, cancels
  // and the dispatcher need not wait for them. Nothing knows the job before it is queued below.
  events_.create(job, cases, ahead == 0 ? "" : std::to_string(ahead) + (ahead == 1 ? " job" : " jobs") + " ahead of it");
  {
    std::lock_guard<std::mutex> lock(mu_);
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
    v1::Job job = *store_.get_job(id, /*with_spec=*/false);
    job.set_state(v1::JOB_STATE_CANCELLED);
    job.set_finished_at(now_rfc3339_ms());
    job.set_message("cancelled before it started");
    events_.publish(job, state_event(v1::JOB_STATE_CANCELLED, job.message()));
    metrics_.job_entered(v1::JOB_STATE_CANCELLED);
    *state = v1::JOB_STATE_CANCELLED;
    return CancelOutcome::kCancelled;
  }
  if (auto it = running_.find(id); it != running_.end()) {
    store_.request_cancel(id);  // first: a server killed from here on does not resume the job
    it->second->cancel = true;
    if (it->second->worker) it->second->worker->kill();
    *state = v1::JOB_STATE_RUNNING;
    return CancelOutcome::kCancelling;
  }
  const auto job_state = store_.job_state(id);
  if (!job_state) return CancelOutcome::kNotFound;
  *state = *job_state;
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
  // The job's cases, in index order, resolved against this build's registry (a kernel gone
  // since the job was admitted fails the job here, naming the case); no sweep is expanded.
  v1::CaseSpecList specs;
  std::vector<Case> cases;
  std::vector<DistributedCase> distributed;  // after the ordinary cases in case order
  try {
    specs = cases_of(job);
    const uint64_t seed = job.spec().measurement().seed();
    for (const v1::CaseSpec& spec : specs.cases()) cases.push_back(resolve_case(spec, seed));
    distributed = distributed_of(job);
  } catch (const std::exception& e) {
    job.clear_spec();
    job.set_state(v1::JOB_STATE_FAILED);
    job.set_message(std::string("cannot expand the job: ") + e.what());
    job.set_finished_at(now_rfc3339_ms());
    events_.publish(job, state_event(job.state(), job.message()));
    return true;
  }
  // From here on the job is its header: the store keeps the spec apart and never rewrites it.
  const v1::MeasurementOptions measurement = job.spec().measurement();
  job.clear_spec();
  // A resumed job keeps its finished cases; its liger rows still pair with stored baselines.
  const std::map<int, v1::CaseResult> stored = store_.results(job.id());
  std::set<int> done;
  PairDeriver pairs;
  const int total = static_cast<int>(cases.size() + distributed.size());
  for (const auto& [i, r] : stored) {
    if (i < static_cast<int>(cases.size())) {
      v1::CaseResult copy = r;
      pairs.apply(cases[i], copy);
    }
    if (i < total) done.insert(i);
  }
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_attempts(job.attempts() + 1);
  if (job.started_at().empty()) job.set_started_at(now_rfc3339_ms());
  job.set_total_cases(total);
  job.set_message(stored.empty() ? "" : "resumed; " + std::to_string(stored.size()) + " cases were already done");
  events_.publish(job, state_event(v1::JOB_STATE_RUNNING, job.message()));

  const auto start = Clock::now();
  // Admission bounds timeout_s; a year caps what an older store may hold, so the time point
  // cannot overflow (1e10 s in nanoseconds does) and time the job out at once.
  constexpr double kYear = 365.0 * 24 * 3600;
  const double timeout_s = job.timeout_s() > 0 && job.timeout_s() < kYear ? job.timeout_s() : kYear;
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  const double limit_s = case_limits_.for_options(measurement);
  const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit_s));
  const std::string job_timeout = "the job's timeout of " + seconds(job.timeout_s()) + " expired";
  v1::JobState final_state = v1::JOB_STATE_FINISHED;
  std::string final_message;
  auto cancelled = [&] {
    final_state = v1::JOB_STATE_CANCELLED;
    final_message = "cancelled by a client after " + std::to_string(job.done_cases()) + " cases";
  };
  // Before each case: false when the job stops here (cancelled, the server stopping, timed out).
  auto may_start = [&] {
    if (rj->cancel) {
      cancelled();
      return false;
    }
    if (stopping_) return false;
    if (Clock::now() >= deadline) {
      final_state = v1::JOB_STATE_TIMED_OUT;
      final_message = job_timeout;
      return false;
    }
    return true;
  };
  auto record = [&](int i, v1::CaseResult r) {
    done.insert(i);
    job.set_done_cases(job.done_cases() + 1);
    if (case_failed(r)) job.set_failed_cases(job.failed_cases() + 1);
    metrics_.case_finished(r);
    v1::JobEvent e;
    *e.mutable_case_result() = std::move(r);
    e.set_case_index(i);
    events_.publish(job, std::move(e));
  };
  bool go_on = true;
  // go_on: false once the job stops early; the distributed cases do not start then.
  for (int i = 0; go_on && i < static_cast<int>(cases.size()); ++i) {
    if (done.count(i)) continue;
    if (!(go_on = may_start())) break;
    const Case& c = cases[i];
    Worker::Outcome out = worker.call(case_request(c, measurement), deadline, limit);
    if (!out.ok && out.killed && !rj->cancel) {  // shutdown: this case runs again after the restart
      go_on = false;
      break;
    }
    if (!out.ok && out.killed && !out.started) {  // cancelled before the case began
      cancelled();
      go_on = false;
      break;
    }
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
      } else {
        if (out.killed) {
          r.set_error("cancelled by a client while this case ran; its worker was killed and replaced");
        } else if (out.case_limit) {
          r.set_error("the case ran past its limit of " + seconds(limit_s) +
                      " (case_timeout_margin_s + 3 x measurement timeout_s, at most max_case_timeout_s); its worker was "
                      "killed and replaced");
        } else if (out.timed_out) {
          r.set_error(job_timeout + " during this case; its worker was killed and replaced");
        } else {
          r.set_error("the case crashed its worker: " + out.failure);
        }
        metrics_.worker_restarted();
      }
    }
    pairs.apply(c, r);
    record(i, std::move(r));
    if (out.killed) {
      cancelled();
      go_on = false;
    } else if (out.timed_out && !out.case_limit) {
      final_state = v1::JOB_STATE_TIMED_OUT;
      final_message = job_timeout;
      go_on = false;
    }
  }
  // The distributed cases, each on its rank processes (the launcher bounds every rank by its
  // rank_timeout_s; a cancel or a shutdown kills them at once).
  for (int j = 0; go_on && j < static_cast<int>(distributed.size()); ++j) {
    const int i = static_cast<int>(cases.size()) + j;
    if (done.count(i)) continue;
    if (!may_start()) break;
    v1::CaseResult r = run_distributed(rj, distributed[j]);
    if (stopping_ && !rj->cancel) break;  // shutdown: this case runs again after the restart
    if (rj->cancel) {
      r.set_ok(false);
      r.set_error("cancelled by a client while this case ran; its ranks were killed" +
                  (r.error().empty() ? std::string() : " (" + r.error() + ")"));
    }
    record(i, std::move(r));
    if (rj->cancel) {
      cancelled();
      break;
    }
  }
  if (stopping_ && !rj->cancel && final_state == v1::JOB_STATE_FINISHED && job.done_cases() < job.total_cases()) {
    job.set_state(v1::JOB_STATE_QUEUED);
    job.set_message("re-queued: the server stopped; " + std::to_string(job.done_cases()) + " finished cases are kept");
    events_.publish(job, state_event(v1::JOB_STATE_QUEUED, job.message()));
    return false;
  }
  if (rj->cancel && final_state == v1::JOB_STATE_FINISHED && job.done_cases() < job.total_cases()) cancelled();
  if (final_state != v1::JOB_STATE_FINISHED) final_message += never_ran(list_skipped(job, specs, distributed, done));
  job.set_state(final_state);
  job.set_message(final_message);
  job.set_finished_at(now_rfc3339_ms());
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
