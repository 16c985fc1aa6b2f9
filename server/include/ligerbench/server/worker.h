#pragma once
// A worker process (ligerbench-worker) that runs cases for the server, so that a kernel that
// crashes (abort, segfault, CUDA illegal address) takes down the worker and not the server.
// Messages are length-prefixed protos over a socket pair on the worker's stdin/stdout; a worker
// first sends an empty WorkerResponse (its hello) once it is ready for requests.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ligerbench/v1/worker.pb.h"

namespace ligerbench::server {

// Frames: a 4-byte little-endian length, then the serialized message. Return false on EOF or a
// broken stream (a message over 256 MiB counts as broken).
bool write_frame(int fd, const google::protobuf::Message& msg);
bool read_frame(int fd, google::protobuf::Message* msg);

// "killed by signal SIGSEGV (Segmentation fault)", "exited with status 3".
std::string describe_wait_status(int status);

class Worker {
 public:
  using Clock = std::chrono::steady_clock;

  struct Outcome {
    bool ok = false;                 // a response arrived
    v1::WorkerResponse response;
    bool started = false;            // the request reached a running worker
    bool timed_out = false;          // the deadline passed; the worker was killed
    bool case_limit = false;         // with timed_out: it was the call's own limit, not the deadline
    bool killed = false;             // kill() ended the call (or came before it)
    std::string failure;             // why there is no response
  };

  Worker(std::string path, std::vector<std::string> args);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Sends the request (starting the process first when none runs: a new worker says hello
  // when it is ready, so its start-up does not count against `limit`) and waits for the answer
  // until `deadline` or `limit` after the request went out, whichever comes first. A worker that
  // dies or runs past either is killed and reaped; the next call starts a fresh one.
  Outcome call(const v1::WorkerRequest& request, Clock::time_point deadline,
               Clock::duration limit = Clock::duration::max());
  // Ends the process; a call in progress on another thread returns with killed set, and so does
  // every later call until rearm().
  void kill();
  // Ready for new calls after a kill(): the killed process is reaped.
  void rearm();
  bool running() const { return pid_.load() > 0; }
  int starts() const { return starts_; }

 private:
  // Starts the process and waits for its hello until `deadline`; "" or why it did not start.
  std::string spawn(Clock::time_point deadline);
  std::string reap();  // waits for the process; returns how it ended

  std::string path_;
  std::vector<std::string> args_;
  std::atomic<pid_t> pid_{0};
  std::atomic<bool> kill_requested_{false};
  int fd_ = -1;
  int starts_ = 0;
};

// Idle workers kept per device set, so consecutive jobs skip the worker's start-up.
class WorkerPool {
 public:
  WorkerPool(std::string path, std::vector<std::string> args) : path_(std::move(path)), args_(std::move(args)) {}
  std::unique_ptr<Worker> acquire(const std::string& key);
  void release(const std::string& key, std::unique_ptr<Worker> w);
  void clear();

 private:
  std::string path_;
  std::vector<std::string> args_;
  std::mutex mu_;
  std::multimap<std::string, std::unique_ptr<Worker>> idle_;
};

}  // namespace ligerbench::server
