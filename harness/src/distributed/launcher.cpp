// The launcher: one distributed case = a fresh TCPStore (hosted here, at the case's rendezvous,
// by default a free loopback port, so that a rank that dies cannot take the rendezvous with it)
// and world_size fresh rank processes, here and on the peer nodes the case names; nothing carries
// over to the next case. It waits for every rank, bounded: once a rank has failed the others get
// kGraceAfterFailure to finish, and no rank outlives the case's deadline (rank_timeout_s plus the
// time processes need to start).
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
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

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

// Waits for every rank; kills the rest once one has failed and the grace is over, at the
// deadline, or when stop() gives a reason.
void wait_all(std::vector<Rank>& ranks, Clock::time_point deadline, double rank_timeout_s,
              const std::function<std::string()>& stop) {
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
    const std::string stop_reason = stop ? stop() : std::string();
    if (!stop_reason.empty()) {
      for (auto& r : ranks) kill_rank(r, "was stopped: " + stop_reason);
    } else if (grace_end && now >= *grace_end) {
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

// host:port of the case's rendezvous (default 127.0.0.1:0).
std::pair<std::string, int> rendezvous_of(const DistributedCase& c) {
  const std::string& r = c.options.rendezvous();
  if (r.empty()) return {"127.0.0.1", 0};
  const auto colon = r.rfind(':');
  return {r.substr(0, colon), std::stoi(r.substr(colon + 1))};  // validated: host:port, port 0..65535
}

// Merges the ranks' outcomes (in rank order) into the case's result: rank 0's figures, every
// rank's RankInfo, and an error that names what failed: peer nodes first, then the ranks that
// died or hung (the others' errors are usually their consequence).
void merge(const std::vector<v1::RankOutcome>& ranks, const std::vector<std::string>& nodes,
           const std::vector<bool>& consequence, const std::vector<std::string>& node_errors, v1::CaseResult& out) {
  std::vector<std::string> culprits = node_errors, others;
  auto* info = out.mutable_distributed();
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const v1::RankOutcome& o = ranks[i];
    if (!o.reported()) {
      v1::RankInfo* ri = info->add_ranks();
      ri->set_rank(static_cast<int>(i));
      ri->set_ok(false);
      ri->set_error(o.failure());
      ri->set_node(nodes[i]);
      if (!consequence[i]) culprits.push_back(o.failure());
      continue;
    }
    const v1::CaseResult& got = o.result();
    if (i == 0) {
      *out.mutable_timing() = got.timing();
      *out.mutable_accuracy() = got.accuracy();
      *out.mutable_throughput() = got.throughput();
      if (got.has_memory()) *out.mutable_memory() = got.memory();
      out.set_speedup(got.speedup());
      out.set_memory_ratio(got.memory_ratio());
      out.set_note(got.note());
      const auto& d = got.distributed();
      info->set_bytes(d.bytes());
      info->set_algbw_gb_per_s(d.algbw_gb_per_s());
      info->set_busbw_gb_per_s(d.busbw_gb_per_s());
      info->set_bus_factor(d.bus_factor());
      info->set_method(d.method());
      *info->mutable_differing_tensors() = d.differing_tensors();
      if (d.has_training()) *info->mutable_training() = d.training();
    }
    for (const auto& ri : got.distributed().ranks()) {
      v1::RankInfo* added = info->add_ranks();
      *added = ri;
      added->set_node(nodes[i]);
    }
    if (!got.ok()) {
      const std::string e = got.error();
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

std::vector<v1::RankOutcome> run_local_ranks(const std::vector<v1::RankTask>& tasks, double rank_timeout_s,
                                             const std::string& exe_arg, const std::function<std::string()>& stop) {
  std::vector<v1::RankOutcome> outcomes(tasks.size());
  if (tasks.empty()) return outcomes;
  const std::string exe = exe_arg.empty() ? self_exe() : exe_arg;
  std::string tmpl = (fs::temp_directory_path() / "ligerbench-ranks-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error(std::string("cannot create a folder for the ranks: ") + std::strerror(errno));
  const fs::path dir = tmpl;
  std::vector<Rank> ranks(tasks.size());
  try {
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const std::string r = std::to_string(tasks[i].rank());
      Rank& rk = ranks[i];
      rk.task = dir / ("task_" + r + ".pb");
      rk.result = dir / ("result_" + r + ".pb");
      rk.log = dir / ("rank_" + r + ".log");
      std::ofstream f(rk.task, std::ios::binary);
      if (!tasks[i].SerializeToOstream(&f)) throw std::runtime_error("cannot write " + rk.task.string());
    }
    const auto deadline = Clock::now() + kStartupAllowance + std::chrono::milliseconds(static_cast<int64_t>(1000 * rank_timeout_s));
    for (auto& rk : ranks) {
      try {
        rk.pid = spawn_rank(exe, rk);
        rk.running = true;
      } catch (...) {
        for (auto& started : ranks) kill_rank(started, "was stopped: another rank could not start");
        wait_all(ranks, Clock::now(), rank_timeout_s, nullptr);
        throw;
      }
    }
    wait_all(ranks, deadline, rank_timeout_s, stop);
  } catch (...) {
    remove_rank_folder(dir.string());
    throw;
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    v1::RankOutcome& o = outcomes[i];
    o.set_rank(tasks[i].rank());
    if (auto got = read_result(ranks[i].result)) {
      o.set_reported(true);
      *o.mutable_result() = std::move(*got);
    } else {
      const std::string log = tail_of(ranks[i].log);
      o.set_failure("rank " + std::to_string(tasks[i].rank()) + " of " + std::to_string(tasks[i].world_size()) + " " +
                    how_it_ended(ranks[i]) + " before reporting" + (log.empty() ? "" : " (its output: " + log + ")"));
    }
  }
  remove_rank_folder(dir.string());
  return outcomes;
}

std::vector<std::string> rank_nodes(const DistributedCase& c) {
  const auto& peers = c.options.nodes();
  const int per_node = c.world_size / (1 + peers.size());  // validated: world_size divides evenly
  std::vector<std::string> nodes(c.world_size);
  for (int r = 0; r < c.world_size; ++r) nodes[r] = r < per_node ? "" : peers[r / per_node - 1];
  return nodes;
}

v1::CaseResult run_distributed_case(const DistributedCase& c, const LaunchOptions& options) {
  v1::CaseResult out = c.identity;
  record_failure(out, [&] {
    const std::vector<std::string> nodes = rank_nodes(c);
    const bool multi_node = c.options.nodes_size() > 0;
    if (multi_node && !options.run_on_peer)
      throw std::runtime_error("distributed_options.nodes needs the server path: submit the job to a ligerbenchd, which hands "
                               "the peers their ranks (ligerbench run starts ranks on this machine only)");
    const auto [host, port] = rendezvous_of(c);
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);  // 0: a free port, chosen by the kernel
    so.isServer = true;
    so.waitWorkers = false;
    so.timeout = std::chrono::milliseconds(static_cast<int64_t>(1000 * c.rank_timeout_s));
    c10::intrusive_ptr<c10d::TCPStore> store;
    try {
      store = c10::make_intrusive<c10d::TCPStore>(host, so);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot host the rendezvous " + host + ":" + std::to_string(port) + ": " + e.what());
    }

    // Every rank's task; a node's ranks share its cores, a GPU each in turn.
    const GpuBackend* gpu = c.device_type == "cuda" ? gpu_backend() : nullptr;
    const int visible = c.device_type == "cuda" && gpu ? std::max(1, gpu->device_count()) : 1;
    std::vector<v1::RankTask> tasks(c.world_size);
    std::map<std::string, std::vector<int>> ranks_of_node;
    for (int r = 0; r < c.world_size; ++r) ranks_of_node[nodes[r]].push_back(r);
    for (int r = 0; r < c.world_size; ++r) {
      const auto& mates = ranks_of_node[nodes[r]];
      const int local = static_cast<int>(std::find(mates.begin(), mates.end(), r) - mates.begin());
      v1::RankTask& task = tasks[r];
      task.set_kind(c.kind);
      *task.mutable_case_spec() = c.rank_case;
      *task.mutable_options() = c.options;
      task.set_rank(r);
      task.set_world_size(c.world_size);
      task.set_device(c.device_type == "cpu" ? "cpu" : "cuda:" + std::to_string(local % visible));
      task.mutable_case_spec()->set_device(task.device());
      task.set_store_host(host);
      task.set_store_port(store->getPort());
      task.set_local_ranks(static_cast<int>(mates.size()));
      task.set_seed(c.seed);
      task.set_collective(c.collective);
      task.set_bytes(c.bytes);
    }

    // The peers' ranks on threads of their own, this node's here; a failure anywhere stops the rest.
    std::atomic<bool> abandon{false};
    std::mutex mu;
    std::vector<std::string> node_errors;
    std::string peer_failed;  // why this node's ranks should stop: a peer's rank or the peer itself failed
    std::vector<v1::RankOutcome> outcomes(c.world_size);
    std::vector<bool> consequence(c.world_size, false);  // ranks whose failure another error explains
    std::vector<std::thread> peers;
    for (const auto& [node, ranks] : ranks_of_node) {
      if (node.empty()) continue;
      peers.emplace_back([&, node = node, ranks = ranks] {
        std::vector<v1::RankTask> mine;
        for (int r : ranks) mine.push_back(tasks[r]);
        std::vector<v1::RankOutcome> got;
        std::string error;
        try {
          got = options.run_on_peer(node, mine, abandon);
          if (got.size() != mine.size())
            error = "node " + node + " answered for " + std::to_string(got.size()) + " of its " + std::to_string(mine.size()) + " ranks";
        } catch (const std::exception& e) {
          error = "node " + node + ": " + e.what();
        }
        std::lock_guard<std::mutex> lock(mu);
        // A call this side cancelled, because the case had failed elsewhere, is no failure of the node's.
        const bool stopped_by_us = !error.empty() && abandon;
        for (std::size_t i = 0; i < ranks.size(); ++i) {
          if (error.empty()) {
            outcomes[ranks[i]] = got[i];
            if ((!got[i].reported() || !got[i].result().ok()) && peer_failed.empty())
              peer_failed = "rank " + std::to_string(ranks[i]) + " on node " + node + " failed";
          } else {
            outcomes[ranks[i]].set_rank(ranks[i]);
            outcomes[ranks[i]].set_failure("rank " + std::to_string(ranks[i]) + " of " + std::to_string(c.world_size) + " on node " +
                                           node + (stopped_by_us ? " was stopped: the case had failed elsewhere"
                                                                 : " was not started or not heard from: its node failed"));
            consequence[ranks[i]] = true;
          }
        }
        if (stopped_by_us) error.clear();
        if (!error.empty()) {
          node_errors.push_back(error);
          if (peer_failed.empty()) peer_failed = "node " + node + " failed";
        }
        if (!peer_failed.empty()) abandon = true;
      });
    }
    std::vector<v1::RankTask> here;
    for (int r : ranks_of_node[""]) here.push_back(tasks[r]);
    std::vector<v1::RankOutcome> local;
    try {
      local = run_local_ranks(here, c.rank_timeout_s, options.exe, [&]() -> std::string {
        if (options.stop && options.stop()) return "the job was cancelled";
        std::lock_guard<std::mutex> lock(mu);
        return peer_failed;
      });
    } catch (...) {
      abandon = true;
      for (auto& t : peers) t.join();
      throw;
    }
    for (const auto& o : local)
      if (!o.reported() || !o.result().ok()) abandon = true;
    for (auto& t : peers) t.join();
    const auto& mine = ranks_of_node[""];
    for (std::size_t i = 0; i < mine.size(); ++i) outcomes[mine[i]] = local[i];
    merge(outcomes, nodes, consequence, node_errors, out);
  });
  return out;
}

}  // namespace ligerbench
