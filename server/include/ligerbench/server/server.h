#pragma once
// ligerbenchd assembled: store, worker pool, scheduler, metrics and the gRPC service (with the
// standard health service and server reflection).
#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "ligerbench/server/admission.h"
#include "ligerbench/server/admission_queue.h"
#include "ligerbench/server/events.h"
#include "ligerbench/server/metrics.h"
#include "ligerbench/server/peer_ranks.h"
#include "ligerbench/server/scheduler.h"
#include "ligerbench/server/store.h"
#include "ligerbench/server/worker.h"
#include "ligerbench/v1/config.pb.h"
#include "ligerbench/v1/service.grpc.pb.h"

namespace ligerbench::server {

class Server {
 public:
  // Checks the config (InputError), opens the store, asks a worker for the node's devices and
  // ceilings, binds /metrics, recovers the queue. Nothing is served until start().
  explicit Server(v1::ServerConfig config);
  ~Server();

  // Binds the gRPC port and starts scheduling. Throws when the address cannot be bound.
  void start();
  // Health NOT_SERVING, no new calls, running cases finish (up to shutdown_grace_s) and their
  // jobs go back to the queue; open streams end.
  void shutdown();
  void wait();

  int port() const { return port_; }
  int metrics_port() const { return metrics_->port(); }
  const v1::ServerConfig& config() const { return config_; }

 private:
  v1::ServerConfig config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Events> events_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<RankHost> rank_host_;  // serves RunRanks: peers' ranks of multi-node cases
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<AdmissionQueue> admission_;
  std::unique_ptr<v1::BenchService::CallbackService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  v1::NodeInfo node_;
  AdmissionLimits limits_;
  std::string token_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace ligerbench::server
