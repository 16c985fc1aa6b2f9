#pragma once
// Where SubmitJob's admission (validation, expansion, memory estimates: work that grows with the
// spec) runs: a few threads of its own with a bounded backlog, never gRPC's callback threads, so
// health checks and the other RPCs answer while a large spec is admitted, and a burst of large
// specs is refused at once instead of piling up.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ligerbench::server {

class AdmissionQueue {
 public:
  // A task is called once: with true to do its work, or with false when the queue stopped before
  // it started (it should then only answer its caller).
  using Task = std::function<void(bool run)>;
  enum class Posted { kQueued, kFull, kStopped };

  AdmissionQueue(int threads, int max_pending);
  ~AdmissionQueue();
  AdmissionQueue(const AdmissionQueue&) = delete;
  AdmissionQueue& operator=(const AdmissionQueue&) = delete;

  // Queues the task unless max_pending tasks wait already (kFull) or stop() was called
  // (kStopped); in both cases the task is not called.
  Posted post(Task task);
  // Tasks that have not started are called with false; returns when the running ones are done.
  void stop();

  int max_pending() const { return max_pending_; }

 private:
  void loop();

  const int max_pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> pending_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ligerbench::server
