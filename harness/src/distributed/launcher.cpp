// The launcher: one distributed case = a fresh TCPStore (hosted here, on a free loopback port,
// so that a rank that dies cannot take the rendezvous with it) and world_size fresh rank
// processes; nothing carries over to the next case. It waits for every rank, bounded: once a
// rank has failed the others get kGraceAfterFailure to finish, and no rank outlives the case's
// deadline (rank_timeout_s plus the time processes need to start).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <c10/util/Exception.h>

#include "ligerbench/device.h"
#include "ligerbench/distributed.h"
#include "ligerbench/v1/rank_task.pb.h"
#include "ligerbench/record_failure.h"

extern char** environ;

namespace ligerbench {
namespace {

// Removes the ranks' folder (flat: task, result and log files). Not std::filesystem::remove_all:
// PyTorch's CUDA wheel exports its own copy of that symbol, which the dynamic linker binds ahead
// of libstdc++'s, and that copy calls through a null pointer (a segfault after every case).
void remove_rank_folder(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") unlink((dir + "/" + name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kStartupAllowance{30};
constexpr std::chrono::milliseconds kGraceAfterFailure{2000};
constexpr std::size_t kStderrTail = 600;

struct Rank {
  pid_t pid = -1;
  int status = 0;
  bool running = false;
  bool killed_by_us = false;
  std::string why_killed;
  fs::path task, result, log;
};

std::string self_exe() {
  std::error_code ec;
  const auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("ligerbench") : p.string();
}

std::string tail_of(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.size() > kStderrTail) s = "..." + s.substr(s.size() - kStderrTail);
  return s;
}

pid_t spawn_rank(const std::string& exe, const Rank& r) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, r.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  std::vector<std::string> args = {exe, "__rank", r.task.string(), r.result.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start a rank process " + exe + ": " + std::strerror(rc));
  return pid;
}

// How a rank ended, for the error: "was killed by signal 9 (Killed)", "exited with status 1".
std::string how_it_ended(const Rank& r) {
  if (r.killed_by_us) return r.why_killed;
  if (WIFSIGNALED(r.status))
    return "was killed by signal " + std::to_string(WTERMSIG(r.status)) + " (" + strsignal(WTERMSIG(r.status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(r.status));
}

void kill_rank(Rank& r, const std::string& why) {
  if (!r.running) return;
  ::kill(r.pid, SIGKILL);
  r.killed_by_us = true;
  r.why_killed = why;
}

// Waits for every rank; kills the rest once one has failed and the grace is over, or at the deadline.
void wait_all(std::vector<Rank>& ranks, Clock::time_point deadline, double rank_timeout_s) {
  std::optional<Clock::time_point> grace_end;
  int first_failed = -1;
  for (;;) {
    bool any_running = false;
    for (std::size_t i = 0; i < ranks.size(); ++i) {
      Rank& r = ranks[i];
      if (!r.running) continue;
      const pid_t got = waitpid(r.pid, &r.status, WNOHANG);
      if (got == r.pid) {
        r.running = false;
        const bool failed = !(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
        if (failed && !grace_end) {
          grace_end = Clock::now() + kGraceAfterFailure;
          first_failed = static_cast<int>(i);
        }
      } else {
        any_running = true;
      }
    }
    if (!any_running) return;
    const auto now = Clock::now();
    if (grace_end && now >= *grace_end) {
      for (auto& r : ranks)
        kill_rank(r, "was stopped: it had not finished " + std::to_string(kGraceAfterFailure.count()) +
                         " ms after rank " + std::to_string(first_failed) + " failed");
    } else if (now >= deadline) {
      std::ostringstream os;
      os << "did not finish within the case's deadline (rank_timeout_s " << rank_timeout_s << " + "
         << kStartupAllowance.count() << " s to start) and was killed";
      for (auto& r : ranks) kill_rank(r, os.str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<v1::CaseResult> read_result(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  v1::CaseResult r;
  if (!f || !r.ParseFromIstream(&f)) return std::nullopt;
  return r;
}

// Merges the ranks' results into the case's: rank 0's figures, every rank's RankInfo, and an
// error that names the ranks that failed (those that died or hung first: the others' errors
// are usually their consequence).
void merge(const DistributedCase& c, std::vector<Rank>& ranks, v1::CaseResult& out) {
  std::vector<std::string> culprits, others;
  auto* info = out.mutable_distributed();
  const std::string of = " of " + std::to_string(c.world_size);
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const auto got = read_result(ranks[i].result);
    const std::string name = "rank " + std::to_string(i) + of;
    if (!got) {
      v1::RankInfo* ri = info->add_ranks();
      ri->set_rank(static_cast<int>(i));
      ri->set_ok(false);
      ri->set_error(name + " " + how_it_ended(ranks[i]) + " before reporting");
      const std::string log = tail_of(ranks[i].log);
      culprits.push_back(ri->error() + (log.empty() ? "" : " (its output: " + log + ")"));
      continue;
    }
    if (i == 0) {
      *out.mutable_timing() = got->timing();
      *out.mutable_accuracy() = got->accuracy();
      *out.mutable_throughput() = got->throughput();
      if (got->has_memory()) *out.mutable_memory() = got->memory();
      out.set_speedup(got->speedup());
      out.set_memory_ratio(got->memory_ratio());
      out.set_note(got->note());
      const auto& d = got->distributed();
      info->set_bytes(d.bytes());
      info->set_algbw_gb_per_s(d.algbw_gb_per_s());
      info->set_busbw_gb_per_s(d.busbw_gb_per_s());
      info->set_bus_factor(d.bus_factor());
      info->set_method(d.method());
      *info->mutable_differing_tensors() = d.differing_tensors();
      if (d.has_training()) *info->mutable_training() = d.training();
    }
    for (const auto& ri : got->distributed().ranks()) *info->add_ranks() = ri;
    if (!got->ok()) {
      const std::string e = got->error();
      // A verdict every rank reached together (a consistency difference) is reported once.
      if (std::find(others.begin(), others.end(), e) == others.end()) others.push_back(e);
    }
  }
  std::vector<std::string> all = culprits;
  if (!culprits.empty())
    for (std::size_t i = 0; i < others.size(); ++i) others[i] = "and a rank reported: " + others[i];
  all.insert(all.end(), others.begin(), others.end());
  std::string error;
  for (const auto& e : all) error += (error.empty() ? "" : "; ") + e;
  out.set_ok(error.empty());
  out.set_error(error);
}

}  // namespace

v1::CaseResult run_distributed_case(const DistributedCase& c, const std::string& exe_arg) {
  v1::CaseResult out = c.identity;
  fs::path dir;
  record_failure(out, [&] {
    const std::string exe = exe_arg.empty() ? self_exe() : exe_arg;
    std::string tmpl = (fs::temp_directory_path() / "ligerbench-ranks-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error(std::string("cannot create a folder for the ranks: ") + std::strerror(errno));
    dir = tmpl;
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(1000 * c.rank_timeout_s));
    c10d::TCPStoreOptions so;
    so.port = 0;  // a free port, chosen by the kernel
    so.isServer = true;
    so.waitWorkers = false;
    so.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);

    std::vector<Rank> ranks(c.world_size);
    const GpuBackend* gpu = gpu_backend();
    const int visible = c.device_type == "cuda" && gpu ? std::max(1, gpu->device_count()) : 1;
    for (int r = 0; r < c.world_size; ++r) {
      v1::RankTask task;
      task.set_kind(c.kind);
      *task.mutable_case_spec() = c.rank_case;
      *task.mutable_options() = c.options;
      task.set_rank(r);
      task.set_world_size(c.world_size);
      task.set_device(c.device_type == "cpu" ? "cpu" : "cuda:" + std::to_string(r % visible));
      task.mutable_case_spec()->set_device(task.device());
      task.set_store_port(store->getPort());
      task.set_seed(c.seed);
      task.set_collective(c.collective);
      task.set_bytes(c.bytes);
      Rank& rk = ranks[r];
      rk.task = dir / ("task_" + std::to_string(r) + ".pb");
      rk.result = dir / ("result_" + std::to_string(r) + ".pb");
      rk.log = dir / ("rank_" + std::to_string(r) + ".log");
      std::ofstream f(rk.task, std::ios::binary);
      if (!task.SerializeToOstream(&f)) throw std::runtime_error("cannot write " + rk.task.string());
    }
    const auto deadline = Clock::now() + kStartupAllowance + timeout;
    for (auto& rk : ranks) {
      try {
        rk.pid = spawn_rank(exe, rk);
        rk.running = true;
      } catch (...) {
        for (auto& started : ranks) kill_rank(started, "was stopped: another rank could not start");
        wait_all(ranks, Clock::now(), c.rank_timeout_s);
        throw;
      }
    }
    wait_all(ranks, deadline, c.rank_timeout_s);
    merge(c, ranks, out);
  });
  if (!dir.empty()) remove_rank_folder(dir.string());
  return out;
}

}  // namespace ligerbench
