#include "ligerbench/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <deque>
#include <random>
#include <stdexcept>

#include "ligerbench/input_error.h"
#include "ligerbench/job_state.h"
#include "ligerbench/kernel_info.h"
#include "ligerbench/registry.h"
#include "ligerbench/server/config.h"
#include "ligerbench/server/debug_kernel.h"
#include "ligerbench/server/messages.h"
#include "ligerbench/server/reflection_guard.h"

namespace ligerbench::server {
namespace {

constexpr const char* kServiceName = "ligerbench.v1.BenchService";
// Admission threads and how many submissions may wait for one: enough for bursts of small jobs
// from many clients, few enough that a flood of large specs is refused rather than held.
constexpr int kAdmissionThreads = 2;
constexpr int kAdmissionBacklog = 64;

std::string new_job_id() {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard<std::mutex> lock(mu);
  char buf[24];
  std::snprintf(buf, sizeof buf, "j-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// Streams a job's events: the stored ones after the client's seq, then live ones, ending after
// the final state. Events arrive from the bus under its lock; writes go out one at a time.
class WatchReactor : public grpc::ServerWriteReactor<v1::JobEvent> {
 public:
  WatchReactor(Events& events, const std::string& job_id, int64_t after_seq) : events_(events), after_seq_(after_seq) {
    bool ended = false;
    const int sub = events_.subscribe(job_id, after_seq, [this](const v1::JobEvent& e) { push(e); }, &ended);
    std::lock_guard<std::mutex> lock(mu_);
    sub_ = sub;
    // A job that had ended sends nothing more: the stream ends once the replayed events are out,
    // also when the client was already past the last one.
    if (ended) final_seen_ = true;
    constructing_ = false;
    next_locked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
      return;
    }
    next_locked();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    events_.unsubscribe(sub_);
    delete this;
  }

 private:
  void push(const v1::JobEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (e.has_state_change() && is_final(e.state_change())) final_seen_ = true;
    if (e.seq() > after_seq_) queue_.push_back(e);  // a live event the client has seen already is not sent again
    if (!constructing_) next_locked();
  }

  void next_locked() {
    if (writing_ || finished_) return;
    if (queue_.empty()) {
      if (final_seen_) finish_locked(grpc::Status::OK);
      return;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  void finish_locked(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  Events& events_;
  const int64_t after_seq_;
  std::mutex mu_;
  int sub_ = 0;
  bool constructing_ = true, writing_ = false, finished_ = false, final_seen_ = false;
  std::deque<v1::JobEvent> queue_;
  v1::JobEvent current_;
};

class FailedWatch : public grpc::ServerWriteReactor<v1::JobEvent> {
 public:
  explicit FailedWatch(const grpc::Status& s) { Finish(grpc::Status(s.error_code(), cap_message(s.error_message()))); }
  void OnDone() override { delete this; }
};

// Runs `body` (which returns a Status), turning an exception into INTERNAL, with the message capped.
template <typename F>
grpc::Status guarded(F&& body) {
  grpc::Status s;
  try {
    s = body();
  } catch (const std::exception& e) {
    s = grpc::Status(grpc::StatusCode::INTERNAL, e.what());
  }
  return s.ok() ? s : grpc::Status(s.error_code(), cap_message(s.error_message()));
}

class Service final : public v1::BenchService::CallbackService {
 public:
  Service(Store& store, Events& events, Scheduler& scheduler, RankHost& rank_host, AdmissionQueue& admission,
          const AdmissionLimits& limits, const v1::NodeInfo& node, std::string token, int max_queued)
      : store_(store),
        events_(events),
        scheduler_(scheduler),
        rank_host_(rank_host),
        admission_(admission),
        limits_(limits),
        node_(node),
        token_(std::move(token)),
        max_queued_(max_queued) {}

  // Admission runs on the admission queue's threads; the reactor finishes from there.
  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* ctx, const v1::SubmitJobRequest* req,
                                      v1::SubmitJobResponse* resp) override {
    auto* r = ctx->DefaultReactor();
    if (auto s = authorize(ctx); !s.ok()) {
      r->Finish(s);
      return r;
    }
    const auto posted = admission_.post([this, req, resp, r](bool run) {
      r->Finish(run ? guarded([&] { return submit(*req, resp); })
                    : grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    });
    if (posted == AdmissionQueue::Posted::kFull)
      r->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             std::to_string(admission_.max_pending()) + " submissions are waiting to be checked; try again later"));
    else if (posted == AdmissionQueue::Posted::kStopped)
      r->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    return r;
  }

  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* ctx, const v1::GetJobRequest* req,
                                   v1::GetJobResponse* resp) override {
    return reply(ctx, [&] {
      auto job = store_.get_job(req->job_id());
      if (!job) return not_found(req->job_id());
      if (req->include_results()) {
        auto* r = resp->mutable_result();
        r->set_job_id(job->id());
        *r->mutable_spec() = job->spec();
        *r->mutable_node() = node_;
        r->set_started_at(job->started_at());
        r->set_finished_at(job->finished_at());
        r->set_failed_cases(job->failed_cases());
        for (auto& [i, c] : store_.results(job->id())) *r->add_cases() = std::move(c);
      }
      *resp->mutable_job() = std::move(*job);
      return grpc::Status::OK;
    });
  }

  grpc::ServerWriteReactor<v1::JobEvent>* WatchJob(grpc::CallbackServerContext* ctx,
                                                   const v1::WatchJobRequest* req) override {
    if (auto s = authorize(ctx); !s.ok()) return new FailedWatch(s);
    if (req->after_seq() < 0) return new FailedWatch(invalid("after_seq", "must not be negative"));
    if (!store_.job_state(req->job_id())) return new FailedWatch(not_found(req->job_id()));
    return new WatchReactor(events_, req->job_id(), req->after_seq());
  }

  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* ctx, const v1::CancelJobRequest* req,
                                      v1::CancelJobResponse* resp) override {
    return reply(ctx, [&] {
      v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
      switch (scheduler_.cancel(req->job_id(), &state)) {
        case Scheduler::CancelOutcome::kNotFound:
          return not_found(req->job_id());
        case Scheduler::CancelOutcome::kAlreadyFinished:
          return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                              "job_id: job " + quote_input(req->job_id()) + " has already ended (" + job_state_name(state) + ")");
        default:
          resp->set_state(state);
          return grpc::Status::OK;
      }
    });
  }

  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* ctx, const v1::ListJobsRequest* req,
                                     v1::ListJobsResponse* resp) override {
    return reply(ctx, [&] {
      if (req->page_size() < 0 || req->page_size() > 1000) return invalid("page_size", "must be between 0 and 1000");
      int64_t before = 0;
      if (!req->page_token().empty()) {
        try {
          std::size_t used = 0;
          before = std::stoll(req->page_token(), &used);
          if (used != req->page_token().size() || before <= 0) throw std::invalid_argument("");
        } catch (const std::exception&) {
          return invalid("page_token", "not a token returned by ListJobs");
        }
      }
      std::vector<v1::JobState> states;
      for (int i = 0; i < req->states_size(); ++i) {
        if (req->states(i) == v1::JOB_STATE_UNSPECIFIED)
          return invalid("states[" + std::to_string(i) + "]", "JOB_STATE_UNSPECIFIED is not a state");
        states.push_back(req->states(i));
      }
      const std::map<std::string, std::string> labels(req->labels().begin(), req->labels().end());
      int64_t next = 0;
      for (auto& job : store_.list_jobs(before, states, labels, req->page_size() ? req->page_size() : 50, &next)) {
        job.mutable_spec()->clear_cases();
        job.clear_skipped_cases();
        *resp->add_jobs() = std::move(job);
      }
      if (next > 0) resp->set_next_page_token(std::to_string(next));
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* ListKernels(grpc::CallbackServerContext* ctx, const v1::ListKernelsRequest*,
                                        v1::ListKernelsResponse* resp) override {
    return reply(ctx, [&] {
      *resp = list_kernels();
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* RunRanks(grpc::CallbackServerContext* ctx, const v1::RunRanksRequest* req,
                                     v1::RunRanksResponse* resp) override {
    if (auto s = authorize(ctx); !s.ok()) {
      auto* r = ctx->DefaultReactor();
      r->Finish(s);
      return r;
    }
    return rank_host_.serve(ctx, req, resp);
  }

  grpc::ServerUnaryReactor* GetNodeInfo(grpc::CallbackServerContext* ctx, const v1::GetNodeInfoRequest*,
                                        v1::GetNodeInfoResponse* resp) override {
    return reply(ctx, [&] {
      *resp->mutable_node() = node_;
      for (const auto& d : limits_.devices) resp->add_devices(d);
      resp->set_queued_jobs(scheduler_.queued());
      resp->set_running_jobs(scheduler_.running());
      return grpc::Status::OK;
    });
  }

 private:
  grpc::Status submit(const v1::SubmitJobRequest& req, v1::SubmitJobResponse* resp) {
    v1::Job job;
    v1::CaseSpecList cases;
    if (auto s = admit(req, limits_, &job, &cases); !s.ok()) return s;
    if (scheduler_.queued() >= max_queued_)
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the queue is full (" + std::to_string(max_queued_) + " jobs); try again later");
    job.set_id(new_job_id());
    job.set_submitted_at(now_rfc3339_ms());
    resp->set_job_id(job.id());
    resp->set_total_cases(job.total_cases());
    scheduler_.submit(std::move(job), cases);
    return grpc::Status::OK;
  }

  static grpc::Status invalid(const std::string& field, const std::string& msg) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, field + ": " + msg);
  }
  static grpc::Status not_found(const std::string& id) {
    if (id.empty()) return invalid("job_id", "is empty");
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "job_id: no job " + quote_input(id));
  }

  // The bearer token, when configured, in constant time.
  grpc::Status authorize(grpc::CallbackServerContext* ctx) const {
    if (token_.empty() || bearer_matches(ctx->client_metadata(), token_)) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kTokenRequired);
  }

  template <typename F>
  grpc::ServerUnaryReactor* reply(grpc::CallbackServerContext* ctx, F&& body) {
    grpc::Status s = authorize(ctx);
    if (s.ok()) s = guarded(body);
    auto* r = ctx->DefaultReactor();
    r->Finish(s);
    return r;
  }

  Store& store_;
  Events& events_;
  Scheduler& scheduler_;
  RankHost& rank_host_;
  AdmissionQueue& admission_;
  const AdmissionLimits& limits_;
  const v1::NodeInfo& node_;
  const std::string token_;
  const int max_queued_;
};

// The token file holds one line: the token, optionally followed by a line break. Anything else
// (a second line, spaces or control characters inside) would never match what a client sends
// in its header, so it is refused here rather than failing every call later.
std::string read_token(const std::string& path) {
  std::string t = read_file(path, "auth_token_file");
  if (!t.empty() && t.back() == '\n') t.pop_back();
  if (!t.empty() && t.back() == '\r') t.pop_back();
  if (t.empty()) throw InputError("auth_token_file '" + path + "': the file is empty");
  for (std::size_t i = 0; i < t.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    if (c == '\n' || c == '\r')
      throw InputError("auth_token_file '" + path + "': the file has more than one line; it must hold only the token");
    if (c <= 0x20 || c == 0x7f)
      throw InputError("auth_token_file '" + path + "': the token has a space or control character at byte " +
                       std::to_string(i + 1) + "; it must be one printable word");
  }
  return t;
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const v1::TlsConfig& tls) {
  if (tls.cert_file().empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions o(tls.client_ca_file().empty()
                                          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                          : tls.require_client_cert() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_key_cert_pairs.push_back({read_file(tls.key_file(), "tls.key_file"), read_file(tls.cert_file(), "tls.cert_file")});
  if (!tls.client_ca_file().empty()) o.pem_root_certs = read_file(tls.client_ca_file(), "tls.client_ca_file");
  return grpc::SslServerCredentials(o);
}

}  // namespace

Server::Server(v1::ServerConfig config) : config_(std::move(config)) {
  check_config(config_);
  if (config_.debug_kernels()) register_debug_kernels();
  store_ = std::make_unique<Store>(config_.db());
  std::vector<std::string> worker_args;
  if (config_.debug_kernels()) worker_args.push_back("--debug-kernels");
  pool_ = std::make_unique<WorkerPool>(config_.worker_path(), worker_args);

  // The node as the worker sees it (the server process itself never touches a GPU).
  auto probe = pool_->acquire("probe");
  v1::WorkerRequest req;
  req.mutable_node_info();
  auto out = probe->call(req, Worker::Clock::now() + std::chrono::minutes(5));
  if (!out.ok) throw std::runtime_error("cannot start the worker '" + config_.worker_path() + "': " + out.failure);
  node_ = out.response.node();
  std::vector<std::string> visible(out.response.device_ids().begin(), out.response.device_ids().end());
  for (int i = 0; i < out.response.device_ids_size() && i < out.response.device_memory_bytes_size(); ++i)
    limits_.device_memory[out.response.device_ids(i)] = out.response.device_memory_bytes(i);
  for (int i = 0; i < config_.devices_size(); ++i) {
    if (std::find(visible.begin(), visible.end(), config_.devices(i)) == visible.end()) {
      std::string v;
      for (const auto& d : visible) v += (v.empty() ? "" : ", ") + d;
      throw InputError("devices[" + std::to_string(i) + "]: '" + config_.devices(i) + "' is not visible here (visible: " + v + ")");
    }
    limits_.devices.push_back(config_.devices(i));
  }
  if (limits_.devices.empty()) limits_.devices = visible;
  pool_->release(limits_.devices[0], std::move(probe));  // it runs the first job on the default device
  limits_.max_cases_per_job = config_.max_cases_per_job();
  limits_.default_timeout_s = config_.default_job_timeout_s();
  limits_.max_job_timeout_s = config_.max_job_timeout_s();

  metrics_ = std::make_unique<Metrics>(config_.metrics_listen());
  events_ = std::make_unique<Events>(*store_);
  if (!config_.auth_token_file().empty()) token_ = read_token(config_.auth_token_file());
  // Distributed cases: the worker executable runs the ranks (`__rank`); peers are called with
  // this server's token (every node of a cluster shares one), over TLS when peer_ca_file is set.
  client::ClientOptions peers;
  peers.token = token_;
  peers.tls = !config_.peer_ca_file().empty();
  peers.ca_file = config_.peer_ca_file();
  LaunchOptions launch;
  launch.exe = config_.worker_path();
  launch.run_on_peer = peer_caller(peers);
  rank_host_ = std::make_unique<RankHost>(config_.worker_path(), limits_.devices, limits_.device_memory);
  scheduler_ = std::make_unique<Scheduler>(*store_, *events_, *metrics_, *pool_, node_,
                                           CaseLimits{config_.max_case_timeout_s(), config_.case_timeout_margin_s()},
                                           std::move(launch));
  admission_ = std::make_unique<AdmissionQueue>(kAdmissionThreads, kAdmissionBacklog);
  service_ = std::make_unique<Service>(*store_, *events_, *scheduler_, *rank_host_, *admission_, limits_, node_, token_,
                                       config_.max_queued_jobs());
}

Server::~Server() { shutdown(); }

void Server::start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen(), server_credentials(config_.tls()), &port_);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(config_.max_request_bytes());
  if (!token_.empty() && !config_.reflection_open()) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> guards;
    guards.push_back(reflection_guard(token_));
    builder.experimental().SetInterceptorCreators(std::move(guards));
  }
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || port_ == 0) throw std::runtime_error("cannot listen on '" + config_.listen() + "'");
  grpc_->GetHealthCheckService()->SetServingStatus(kServiceName, true);
  grpc_->GetHealthCheckService()->SetServingStatus(true);
  scheduler_->start();
}

void Server::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (grpc_) grpc_->GetHealthCheckService()->Shutdown();  // every service reports NOT_SERVING from now on
  // Submissions still waiting are answered UNAVAILABLE; the one being checked finishes (its work
  // is bounded by max_request_bytes and max_cases_per_job). gRPC's Shutdown waits for them.
  if (admission_) admission_->stop();
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (scheduler_) scheduler_->stop(config_.shutdown_grace_s());
}

void Server::wait() {
  if (grpc_) grpc_->Wait();
}

}  // namespace ligerbench::server
