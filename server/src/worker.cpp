#include "ligerbench/server/worker.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace ligerbench::server {
namespace {

constexpr uint32_t kMaxFrame = 256u << 20;

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    // send with MSG_NOSIGNAL: a dead peer is an error here, never a SIGPIPE; plain write
    // for pipes and files.
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == ENOTSOCK) k = ::write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

bool read_all(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::read(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// Waits until fd is readable or the deadline passes; false on timeout.
bool wait_readable(int fd, Worker::Clock::time_point deadline) {
  while (true) {
    // Round the wait up: returning while now < deadline would make the caller (which checks
    // now >= deadline) take a timeout for a crash.
    const auto now = Worker::Clock::now();
    if (now >= deadline) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return true;  // let read() report it
  }
}

}  // namespace

bool write_frame(int fd, const google::protobuf::Message& msg) {
  const std::string body = msg.SerializeAsString();
  const uint32_t n = static_cast<uint32_t>(body.size());
  const char len[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                       static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  return write_all(fd, len, 4) && write_all(fd, body.data(), body.size());
}

bool read_frame(int fd, google::protobuf::Message* msg) {
  unsigned char len[4];
  if (!read_all(fd, reinterpret_cast<char*>(len), 4)) return false;
  const uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
  if (n > kMaxFrame) return false;
  std::string body(n, '\0');
  if (!read_all(fd, body.data(), n)) return false;
  return msg->ParseFromString(body);
}

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    static const std::map<int, const char*> names = {
        {SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},  {SIGILL, "SIGILL"},
        {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGTRAP, "SIGTRAP"}, {SIGPIPE, "SIGPIPE"}, {SIGINT, "SIGINT"}};
    auto it = names.find(sig);
    return "killed by signal " + (it != names.end() ? std::string(it->second) : std::to_string(sig)) + " (" +
           strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

Worker::Worker(std::string path, std::vector<std::string> args) : path_(std::move(path)), args_(std::move(args)) {}

Worker::~Worker() {
  kill();
  if (pid_.load() > 0) reap();
}

std::string Worker::spawn(Clock::time_point deadline) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(std::string("worker: socketpair: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);  // dup2 clears close-on-exec on 0 and 1
  posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
  std::vector<std::string> argv_s = {path_};
  argv_s.insert(argv_s.end(), args_.begin(), args_.end());
  argv_s.push_back("--parent-pid=" + std::to_string(::getpid()));
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, path_.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    throw std::runtime_error("worker: cannot start '" + path_ + "': " + std::strerror(rc));
  }
  fd_ = sv[0];
  pid_ = pid;
  ++starts_;
  v1::WorkerResponse hello;
  if (!(wait_readable(fd_, deadline) && read_frame(fd_, &hello))) return "did not start";
  return "";
}

std::string Worker::reap() {
  const pid_t pid = pid_.load();
  int status = 0;
  std::string how = "ended";
  if (pid > 0) {
    // A worker that closed its end is on its way out; give it a moment to end by itself (so its
    // own signal is what we report), then make sure.
    const auto give_up = Clock::now() + std::chrono::seconds(5);
    pid_t got = 0;
    while ((got = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < give_up) ::usleep(2000);
    if (got == 0) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    how = describe_wait_status(status);
  }
  pid_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return how;
}

void Worker::kill() {
  kill_requested_ = true;
  const pid_t pid = pid_.load();
  if (pid > 0) ::kill(pid, SIGKILL);
}

void Worker::rearm() {
  if (kill_requested_ && pid_.load() > 0) reap();
  kill_requested_ = false;
}

Worker::Outcome Worker::call(const v1::WorkerRequest& request, Clock::time_point deadline, Clock::duration limit) {
  Outcome out;
  if (kill_requested_) {
    out.killed = true;
    out.failure = "the call was stopped before it started";
    return out;
  }
  if (pid_.load() > 0) {
    // An idle worker that ended meanwhile (killed from outside): replace it quietly.
    int status = 0;
    if (::waitpid(pid_.load(), &status, WNOHANG) == pid_.load()) {
      pid_ = 0;
      ::close(fd_);
      fd_ = -1;
    }
  }
  if (pid_.load() <= 0) {
    if (const std::string why = spawn(deadline); !why.empty()) {
      out.killed = kill_requested_;
      out.timed_out = !out.killed && Clock::now() >= deadline;
      if (out.timed_out) ::kill(pid_.load(), SIGKILL);
      out.failure = "worker process " + why + ": " + reap();
      return out;
    }
  }
  // kill() stores its flag before it reads the pid and spawn() stores the pid before this read:
  // a kill that raced with the start is seen here or reached the new process.
  if (kill_requested_) {
    out.killed = true;
    out.failure = "worker process " + reap();
    return out;
  }
  const auto now = Clock::now();
  const auto until = limit >= deadline - now ? deadline : now + limit;
  out.started = true;
  if (write_frame(fd_, request) && wait_readable(fd_, until) && read_frame(fd_, &out.response)) {
    out.ok = true;
    if (out.response.exiting()) reap();  // the next call starts a fresh process
    return out;
  }
  if (Clock::now() >= until && !kill_requested_) {
    out.timed_out = true;
    out.case_limit = until < deadline;
    ::kill(pid_.load(), SIGKILL);
  }
  out.killed = kill_requested_;
  out.failure = "worker process " + reap();
  return out;
}

std::unique_ptr<Worker> WorkerPool::acquire(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = idle_.find(key); it != idle_.end()) {
      auto w = std::move(it->second);
      idle_.erase(it);
      return w;
    }
  }
  return std::make_unique<Worker>(path_, args_);
}

void WorkerPool::release(const std::string& key, std::unique_ptr<Worker> w) {
  w->rearm();
  std::lock_guard<std::mutex> lock(mu_);
  idle_.emplace(key, std::move(w));
}

void WorkerPool::clear() {
  std::multimap<std::string, std::unique_ptr<Worker>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle.swap(idle_);
  }
}

}  // namespace ligerbench::server
