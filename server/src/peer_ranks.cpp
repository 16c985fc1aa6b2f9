#include "ligerbench/server/peer_ranks.h"

#include <algorithm>
#include <cstdio>
#include <cctype>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>

#include "ligerbench/case_spec.h"
#include "ligerbench/server/admission.h"
#include "ligerbench/suite.h"

namespace ligerbench::server {
namespace {

// Beyond the ranks' own bound (rank_timeout_s + 30 s to start), what a call to a peer may take:
// the transfers and the peer's own clean-up.
constexpr double kPeerCallSlackS = 30 + 15;

// The unary reactor of one RunRanks call: it only records a cancel (the caller gave up, or the
// server is shutting down) for the thread that runs the ranks.
class RunRanksReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit RunRanksReactor(std::shared_ptr<std::atomic<bool>> cancelled) : cancelled_(std::move(cancelled)) {}
  void OnCancel() override { *cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

double rank_timeout_of(const v1::RankTask& t) { return ligerbench::rank_timeout_of(t.options()); }

std::string describe(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: return "unreachable (" + s.error_message() + ")";
    case grpc::StatusCode::UNAUTHENTICATED: return "refused this server's token (" + s.error_message() + ")";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "did not answer in time";
    case grpc::StatusCode::CANCELLED: return "call cancelled (" + s.error_message() + ")";
    case grpc::StatusCode::UNIMPLEMENTED: return "does not serve RunRanks (an older ligerbenchd?)";
    default: return s.error_message() + " (gRPC status " + std::to_string(s.error_code()) + ")";
  }
}

}  // namespace

RankHost::RankHost(std::string rank_exe, std::vector<std::string> devices, std::map<std::string, int64_t> device_memory)
    : rank_exe_(std::move(rank_exe)), devices_(std::move(devices)), device_memory_(std::move(device_memory)) {
  for (const auto& d : devices_)
    if (d != "cpu") gpus_.push_back(d);
}

RankHost::~RankHost() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  cv_.wait(lock, [&] { return !busy_; });
}

std::string RankHost::check(const v1::RunRanksRequest& req) const {
  if (req.tasks_size() == 0) return "tasks: none given";
  const v1::RankTask& first = req.tasks(0);
  const bool cpu = first.device() == "cpu";
  const int limit = cpu ? kMaxCpuWorldSize : static_cast<int>(gpus_.size());
  if (cpu && std::find(devices_.begin(), devices_.end(), "cpu") == devices_.end()) return "tasks: this node does not serve cpu";
  if (req.tasks_size() > limit)
    return "tasks: " + std::to_string(req.tasks_size()) + " ranks, but this node runs at most " + std::to_string(limit) +
           (cpu ? " on cpu" : " (one per GPU it serves)");
  constexpr int kMaxWorld = 64;  // a suite's world_size bound
  std::set<int> ranks;
  for (int i = 0; i < req.tasks_size(); ++i) {
    const v1::RankTask& t = req.tasks(i);
    const std::string at = "tasks[" + std::to_string(i) + "]";
    if (t.world_size() < 1 || t.world_size() > kMaxWorld || t.world_size() != first.world_size())
      return at + ".world_size: must be one value, 1.." + std::to_string(kMaxWorld) + ", for every task";
    if (t.rank() < 0 || t.rank() >= t.world_size() || !ranks.insert(t.rank()).second)
      return at + ".rank: " + std::to_string(t.rank()) + " is not a distinct rank of " + std::to_string(t.world_size());
    if ((t.device() == "cpu") != cpu || (!cpu && t.device().rfind("cuda", 0) != 0))
      return at + ".device: '" + quote_truncated(t.device()) + "': every task runs on cpu, or every one on cuda";
    if (!is_host_port(t.store_host() + ":" + std::to_string(t.store_port()), 1))
      return at + ": the rendezvous '" + quote_truncated(t.store_host()) + ":" + std::to_string(t.store_port()) +
             "' is not host:port";
    if (t.local_ranks() != req.tasks_size()) return at + ".local_ranks: must be the number of tasks sent (" +
                                                     std::to_string(req.tasks_size()) + ")";
    if (t.kind() != "consistency" && t.kind() != "collective" && t.kind() != "training_step")
      return at + ".kind: '" + quote_truncated(t.kind()) + "' is not consistency, collective or training_step";
    if (t.bytes() < 0 || t.bytes() > (int64_t{1} << 32)) return at + ".bytes: must be in [0, 2^32]";
    // The case as a suite would hold it, checked as admission checks one: the kernel, its shape
    // and params (bounded), the dtype, the distributed options (model size, sizes, ranks).
    v1::JobSpec one;
    v1::CaseSweep* sweep = one.add_cases();
    sweep->set_distributed(t.kind());
    sweep->set_world_size(t.world_size());
    *sweep->mutable_distributed_options() = t.options();
    const v1::CaseSpec& cs = t.case_spec();
    if (!cs.dtype().empty()) sweep->add_dtypes(cs.dtype());
    if (t.kind() == "consistency") {
      sweep->set_kernel(cs.kernel());
      for (const auto& a : cs.shape()) (*sweep->mutable_shape())[a.name()].add_values(a.value());
      for (const auto& [k, v] : cs.params()) (*sweep->mutable_params())[k] = v;
    }
    if (const auto problems = validate_job(one); !problems.empty())
      return at + ": " + problems[0].path + ": " + problems[0].message;
    // As admission does: a kernel case whose inputs would not fit this node's device is refused.
    if (t.kind() == "consistency") {
      v1::CaseSpec on_device = cs;
      on_device.set_device(cpu ? "cpu" : gpus_.at(0));
      Case c;
      try {
        c = resolve_case(on_device, t.seed());
      } catch (const std::exception& e) {
        return at + ".case_spec: " + e.what();
      }
      if (const std::string too_big = exceeds_device_memory(c, device_memory_); !too_big.empty())
        return at + ".case_spec: " + too_big;
    }
  }
  return "";
}

grpc::ServerUnaryReactor* RankHost::serve(grpc::CallbackServerContext*, const v1::RunRanksRequest* req,
                                          v1::RunRanksResponse* resp) {
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto* reactor = new RunRanksReactor(cancelled);
  if (const std::string bad = check(*req); !bad.empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, bad));
    return reactor;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || busy_) {
      reactor->Finish(stopping_ ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down")
                                : grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                               "this node already runs the ranks of another case; try again later"));
      return reactor;
    }
    busy_ = true;
  }
  // This node's GPUs in turn: the caller numbered its tasks' devices for its own node.
  std::vector<v1::RankTask> tasks(req->tasks().begin(), req->tasks().end());
  for (std::size_t i = 0; i < tasks.size(); ++i)
    if (tasks[i].device() != "cpu") {
      tasks[i].set_device(gpus_[i % gpus_.size()]);
      tasks[i].mutable_case_spec()->set_device(tasks[i].device());
    }
  std::thread([this, reactor, resp, tasks = std::move(tasks), cancelled] {
    grpc::Status status;
    try {
      auto outcomes = run_local_ranks(tasks, rank_timeout_of(tasks[0]), rank_exe_, [this, &cancelled]() -> std::string {
        if (*cancelled) return "the server that handed out these ranks cancelled the call";
        std::lock_guard<std::mutex> lock(mu_);
        return stopping_ ? "this node is shutting down" : "";
      });
      for (auto& o : outcomes) *resp->add_ranks() = std::move(o);
    } catch (const std::exception& e) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, std::string("cannot run the ranks: ") + e.what());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
    reactor->Finish(status);  // last: the reactor deletes itself once gRPC is done with it
  }).detach();
  return reactor;
}

RunOnPeer peer_caller(client::ClientOptions base) {
  return [base](const std::string& node, const std::vector<v1::RankTask>& tasks,
                const std::atomic<bool>& abandon) -> std::vector<v1::RankOutcome> {
    client::ClientOptions o = base;
    o.server = node;
    auto stub = v1::BenchService::NewStub(client::make_channel(o));
    auto ctx = client::make_context(o, rank_timeout_of(tasks.at(0)) + kPeerCallSlackS);
    v1::RunRanksRequest req;
    for (const auto& t : tasks) *req.add_tasks() = t;
    v1::RunRanksResponse resp;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    stub->async()->RunRanks(ctx.get(), &req, &resp, [&](grpc::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      status = std::move(s);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    bool cancel_sent = false;
    while (!done) {
      cv.wait_for(lock, std::chrono::milliseconds(20));
      if (abandon && !cancel_sent) {
        ctx->TryCancel();  // the case failed elsewhere: the peer kills its ranks
        cancel_sent = true;
      }
    }
    if (!status.ok()) throw std::runtime_error(describe(status));
    return {resp.ranks().begin(), resp.ranks().end()};
  };
}

}  // namespace ligerbench::server
