#pragma once
// Helpers for the server tests: temp dirs, an in-process server on ephemeral ports, a
// ligerbenchd child process, tiny jobs, waiting for a job's end, HTTP GET.
#include <gtest/gtest.h>
#include <signal.h>
#include <ftw.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ligerbench/client/channel.h"
#include "ligerbench/job_state.h"
#include "ligerbench/server/config.h"
#include "ligerbench/server/debug_kernel.h"
#include "ligerbench/server/server.h"
#include "ligerbench/suite.h"

namespace ligerbench::testing {

// POSIX calls, not std::filesystem: the PyTorch wheel's libtorch.so exports its own copy of
// std::filesystem (GCC's static libstdc++fs), which the dynamic linker binds our calls to when
// libtorch comes first, and its remove_all calls through a null pointer there (SIGSEGV on the
// GPU node, where the tests link that wheel).
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr && *tmp != 0 ? tmp : "/tmp") + "/ligerbench-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path_ = tmpl;
  }
  ~TempDir() {
    // Depth first, not following symbolic links.
    nftw(path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
         FTW_DEPTH | FTW_PHYS);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline v1::ServerConfig test_config(const TempDir& dir) {
  v1::ServerConfig c;
  c.set_listen("127.0.0.1:0");
  c.set_metrics_listen("off");  // civetweb takes ~2 s to stop; the metrics tests turn it on
  c.set_db(dir.file("test.db"));
  c.set_worker_path(LIGERBENCH_WORKER_PATH);
  c.set_debug_kernels(true);
  c.add_devices("cpu");
  c.set_shutdown_grace_s(5);
  c.set_max_cases_per_job(1000);
  server::apply_defaults(c, "");
  return c;
}

// A spec from YAML (debug kernels registered first, so debug_fault is known).
inline v1::JobSpec spec_of(const std::string& yaml) {
  server::register_debug_kernels();
  return parse_suite(yaml, "test.yaml");
}

// rms_norm at T=4, H=8: two cases (baseline, liger) of a few milliseconds.
inline v1::JobSpec tiny_spec(const std::string& name = "tiny") {
  return spec_of("name: " + name + R"(
labels: {suite: tiny}
measurement: {min_samples: 1, max_samples: 2, warmup_runs: 0, min_time_s: 0, check_accuracy: true}
cases:
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward]}
)");
}

// debug_fault cases that sleep: `n` pairs (baseline fast, liger sleeping sleep_ms).
inline v1::JobSpec sleepy_spec(int n, int sleep_ms) {
  std::string ns;
  for (int i = 0; i < n; ++i) ns += (i ? ", " : "") + std::to_string(16 + i);
  return spec_of(R"(
name: sleepy
measurement: {min_samples: 1, max_samples: 1, warmup_runs: 0, min_time_s: 0, check_accuracy: false}
cases:
  - {kernel: debug_fault, shape: {N: [)" + ns + R"(]}, params: {mode: sleep, sleep_ms: ")" + std::to_string(sleep_ms) + R"("}}
)");
}

class Client {
 public:
  explicit Client(client::ClientOptions o) : opts_(std::move(o)), stub_(v1::BenchService::NewStub(client::make_channel(opts_))) {}
  explicit Client(int port) : Client(client::ClientOptions{"127.0.0.1:" + std::to_string(port)}) {}

  v1::BenchService::Stub& stub() { return *stub_; }
  std::unique_ptr<grpc::ClientContext> ctx(double deadline_s = 30) { return client::make_context(opts_, deadline_s); }

  grpc::Status submit(const v1::JobSpec& spec, std::string* id, const std::string& filter = "", double timeout_s = 0) {
    v1::SubmitJobRequest req;
    *req.mutable_spec() = spec;
    req.set_filter(filter);
    req.set_timeout_s(timeout_s);
    v1::SubmitJobResponse resp;
    auto c = ctx();
    auto s = stub_->SubmitJob(c.get(), req, &resp);
    if (id) *id = resp.job_id();
    return s;
  }
  std::string submit_ok(const v1::JobSpec& spec) {
    std::string id;
    auto s = submit(spec, &id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return id;
  }

  v1::GetJobResponse get(const std::string& id, bool results = false) {
    v1::GetJobRequest req;
    req.set_job_id(id);
    req.set_include_results(results);
    v1::GetJobResponse resp;
    auto c = ctx();
    auto s = stub_->GetJob(c.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  grpc::Status cancel(const std::string& id, v1::JobState* state = nullptr) {
    v1::CancelJobRequest req;
    req.set_job_id(id);
    v1::CancelJobResponse resp;
    auto c = ctx();
    auto s = stub_->CancelJob(c.get(), req, &resp);
    if (state) *state = resp.state();
    return s;
  }

  // Polls until the job is in `state` (or the time is up); false when it never got there.
  bool wait_for_state(const std::string& id, v1::JobState state, double seconds = 30) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      if (get(id).job().state() == state) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // Polls until the job ends (or the time is up); returns its final record with results.
  v1::GetJobResponse wait(const std::string& id, double seconds = 60) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      auto r = get(id);
      if (is_final(r.job().state())) return get(id, true);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "job " << id << " did not end within " << seconds << " s";
    return get(id, true);
  }

  // Every event of the job from after_seq until the stream ends.
  std::vector<v1::JobEvent> watch(const std::string& id, int64_t after_seq = 0, grpc::Status* status = nullptr) {
    v1::WatchJobRequest req;
    req.set_job_id(id);
    req.set_after_seq(after_seq);
    auto c = ctx(60);
    auto reader = stub_->WatchJob(c.get(), req);
    std::vector<v1::JobEvent> out;
    v1::JobEvent e;
    while (reader->Read(&e)) out.push_back(e);
    auto s = reader->Finish();
    if (status) *status = s;
    else EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

 private:
  client::ClientOptions opts_;
  std::unique_ptr<v1::BenchService::Stub> stub_;
};

// An in-process server with the test config (tweakable before start).
class InProcess {
 public:
  explicit InProcess(v1::ServerConfig c) : server_(std::make_unique<server::Server>(std::move(c))) { server_->start(); }
  server::Server& server() { return *server_; }
  int port() const { return server_->port(); }

 private:
  std::unique_ptr<server::Server> server_;
};

// A ligerbenchd child process; reads the bound ports from its first line of output.
class Daemon {
 public:
  explicit Daemon(const std::vector<std::string>& args) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::vector<std::string> argv_s = {LIGERBENCHD_PATH};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, LIGERBENCHD_PATH, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    out_ = fdopen(out[0], "r");
    // The first line says where it serves (or why it did not start).
    char buf[4096];
    if (fgets(buf, sizeof buf, out_)) first_line_ = buf;
    port_ = port_after("BenchService on ");
    metrics_port_ = port_after("metrics on http://");
  }
  ~Daemon() {
    if (pid_ > 0) stop(SIGKILL);
    if (out_) fclose(out_);
  }
  // Sends sig and waits; returns the wait status.
  int stop(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return status;
  }
  // Sends sig and waits up to `seconds`; true and *status when it ended, false (and SIGKILL) when not.
  bool stop_within(int sig, double seconds, int* status) {
    kill(pid_, sig);
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      if (waitpid(pid_, status, WNOHANG) == pid_) {
        pid_ = 0;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop(SIGKILL);
    return false;
  }
  // The rest of its output (after it ended).
  std::string rest() {
    std::string s;
    char buf[4096];
    while (fgets(buf, sizeof buf, out_)) s += buf;
    return s;
  }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  const std::string& first_line() const { return first_line_; }

 private:
  // The port of "MARKER host:port ..." on the first line, 0 when absent.
  int port_after(const std::string& marker) const {
    const auto at = first_line_.find(marker);
    if (at == std::string::npos) return 0;
    const auto end = first_line_.find_first_of(" /,", at + marker.size());
    const auto colon = first_line_.rfind(':', end);
    return colon == std::string::npos || colon < at ? 0 : std::atoi(first_line_.c_str() + colon + 1);
  }
  pid_t pid_ = 0;
  FILE* out_ = nullptr;
  std::string first_line_;
  int port_ = 0, metrics_port_ = 0;
};

}  // namespace ligerbench::testing
