#pragma once
// The scheduler: a persistent priority queue (higher priority first, then submission order) and
// one runner thread per running job. A job holds all of its devices while it runs, so two
// measurements never share a device; jobs on disjoint devices run side by side. Each case runs
// in a worker process; a case that kills its worker, or runs past its limit, fails with the
// reason and the job goes on. A cancel kills the running case's worker at once.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ligerbench/case_spec.h"
#include "ligerbench/distributed.h"
#include "ligerbench/server/events.h"
#include "ligerbench/server/metrics.h"
#include "ligerbench/server/store.h"
#include "ligerbench/server/worker.h"

namespace ligerbench::server {

// Each case's wall-clock limit: margin_s + 3 x its measurement timeout_s, at most max_s
// (config.proto: max_case_timeout_s, case_timeout_margin_s).
struct CaseLimits {
  double max_s = 900;
  double margin_s = 60;
  double for_options(const v1::MeasurementOptions& m) const;
};

// What the worker receives for one case: its CaseSpec as admission's expansion named it (kept
// with the job in the store), and the job's measurement options. The worker resolves the spec;
// it expands no sweep.
v1::WorkerRequest case_request(const Case& c, const v1::MeasurementOptions& m);

class Scheduler {
 public:
  // `launch` runs a job's distributed cases (docs/DISTRIBUTED.md): the rank executable and the
  // call that hands peer nodes their ranks; the scheduler adds the stop (cancel, shutdown).
  Scheduler(Store& store, Events& events, Metrics& metrics, WorkerPool& pool, v1::NodeInfo node,
            CaseLimits case_limits = {}, LaunchOptions launch = {});
  ~Scheduler();

  // Recovers the store (jobs left running by a killed server go back to the queue, keeping their
  // finished cases) and starts dispatching.
  void start();
  // Stops dispatching; running jobs stop after their current case and go back to the queue. After
  // grace_s, workers still running a case are killed (that case is not recorded).
  void stop(double grace_s);

  // Stores a validated job (state QUEUED) with its cases (admit's) and queues it.
  void submit(v1::Job job, const v1::CaseSpecList& cases);

  enum class CancelOutcome { kNotFound, kAlreadyFinished, kCancelled, kCancelling };
  CancelOutcome cancel(const std::string& job_id, v1::JobState* state);

  int queued() const;
  int running() const;

 private:
  struct QueueItem {
    int32_t priority;
    int64_t order;
    std::string id;
    std::vector<std::string> devices;
    std::chrono::steady_clock::time_point enqueued;
    bool operator<(const QueueItem& o) const {
      return priority != o.priority ? priority > o.priority : order < o.order;
    }
  };
  struct RunningJob {
    QueueItem item;
    std::atomic<bool> cancel{false};
    Worker* worker = nullptr;  // guarded by mu_
    std::thread thread;
  };

  void enqueue_locked(const v1::Job& job);
  void dispatch_loop();
  void run_job(RunningJob* rj);
  // Runs the cases; returns false when the server is stopping (the job was re-queued).
  bool run_cases(RunningJob* rj, v1::Job& job, Worker& worker);
  // One distributed case of a running job, on its rank processes (here and on peer nodes).
  v1::CaseResult run_distributed(RunningJob* rj, const DistributedCase& c);
  // The job's cases in index order, as the store keeps them (admission's expansion).
  v1::CaseSpecList cases_of(const v1::Job& job);
  // Its distributed cases, which follow them (expand_distributed over the stored spec).
  std::vector<DistributedCase> distributed_of(const v1::Job& job);
  // Ends a job that a client cancelled while it ran, when a restart finds it still unfinished.
  void finish_cancelled_after_restart(v1::Job job);
  void finish_running(RunningJob* rj);

  Store& store_;
  Events& events_;
  Metrics& metrics_;
  WorkerPool& pool_;
  const v1::NodeInfo node_;
  const CaseLimits case_limits_;
  const LaunchOptions launch_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<QueueItem> queue_;
  std::map<std::string, std::unique_ptr<RunningJob>> running_;
  std::set<std::string> busy_devices_;
  std::vector<std::thread> finished_threads_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  int64_t next_order_ = 0;
  std::thread dispatcher_;
};

}  // namespace ligerbench::server
