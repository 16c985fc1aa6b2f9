#pragma once
// Multi-node distributed cases (docs/DISTRIBUTED.md), both sides of BenchService.RunRanks:
// - RankHost serves it: a peer server hands this one some ranks of a case; they run here as
//   local rank processes (the launcher's run_local_ranks) and meet the others at the
//   rendezvous their tasks name.
// - peer_caller() is the server's side of a case whose distributed_options name nodes: it calls
//   each peer's RunRanks, with this server's token, and cancels the call when the case has
//   failed elsewhere.
#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

#include "ligerbench/distributed.h"
#include "ligerbench/client/channel.h"
#include "ligerbench/v1/service.grpc.pb.h"

namespace ligerbench::server {

class RankHost {
 public:
  // rank_exe: the executable that runs `__rank` (ligerbench-worker); devices: this server's pool,
  // with each device's memory (as admission bounds a case's inputs by it).
  RankHost(std::string rank_exe, std::vector<std::string> devices, std::map<std::string, int64_t> device_memory);
  // Stops the ranks still running (their callers see CANCELLED) and waits for them.
  ~RankHost();

  // Checks the request (every task bounded before any process starts), then runs the ranks on a
  // thread of their own and finishes the call when all have ended. One request at a time: a
  // second gets RESOURCE_EXHAUSTED.
  grpc::ServerUnaryReactor* serve(grpc::CallbackServerContext* ctx, const v1::RunRanksRequest* req,
                                  v1::RunRanksResponse* resp);

 private:
  std::string check(const v1::RunRanksRequest& req) const;

  const std::string rank_exe_;
  const std::vector<std::string> devices_;
  const std::map<std::string, int64_t> device_memory_;
  std::vector<std::string> gpus_;  // devices_ but cpu
  std::mutex mu_;
  std::condition_variable cv_;
  bool busy_ = false;
  bool stopping_ = false;
};

// The RunOnPeer of this server's launches: `base` carries the token (and TLS settings) for the
// peers; its `server` is replaced by each node's address.
RunOnPeer peer_caller(client::ClientOptions base);

}  // namespace ligerbench::server
