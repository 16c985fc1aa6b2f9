#include "ligerbench/server/admission_queue.h"

namespace ligerbench::server {

AdmissionQueue::AdmissionQueue(int threads, int max_pending) : max_pending_(max_pending) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
}

AdmissionQueue::~AdmissionQueue() { stop(); }

AdmissionQueue::Posted AdmissionQueue::post(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Posted::kStopped;
    if (static_cast<int>(pending_.size()) >= max_pending_) return Posted::kFull;
    pending_.push_back(std::move(task));
  }
  cv_.notify_one();
  return Posted::kQueued;
}

void AdmissionQueue::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, nothing left
    Task task = std::move(pending_.front());
    pending_.pop_front();
    const bool run = !stopping_;
    lock.unlock();
    task(run);
    lock.lock();
  }
}

void AdmissionQueue::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace ligerbench::server
