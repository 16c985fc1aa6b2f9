#include "client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "args.h"
#include "ligerbench/client/channel.h"
#include "ligerbench/job_state.h"
#include "ligerbench/key_filter.h"
#include "ligerbench/report.h"
#include "ligerbench/suite.h"
#include "ligerbench/yaml_proto.h"
#include "push_cmd.h"

namespace ligerbench::cli {

using client::ClientOptions;

void check(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return;
  if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) throw InputError(what + ": " + s.error_message());
  throw RpcError(what + ": " + s.error_message() + " (gRPC status " + std::to_string(s.error_code()) + ")");
}

// A file named by a connection option must be readable: checked here so that a wrong path is a
// usage error naming the option and the file (exit 2), not a failure inside the TLS setup.
std::string readable_file(const Args& a, const std::string& flag) {
  const std::string path = a.get(flag);
  if (path.empty()) return path;
  std::ifstream in(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !in)
    throw InputError("flag " + flag + " '" + quote_truncated(path) + "': cannot read the file (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) throw InputError("flag " + flag + " '" + quote_truncated(path) + "': not a regular file");
  return path;
}

ClientOptions connection(const Args& a) {
  ClientOptions o;
  const char* env_server = std::getenv("LIGERBENCH_SERVER");
  o.server = a.get("--server", env_server ? env_server : "127.0.0.1:50051");
  o.tls = a.flags.count("--tls") > 0 || a.options.count("--ca") > 0;
  o.ca_file = readable_file(a, "--ca");
  o.cert_file = readable_file(a, "--cert");
  o.key_file = readable_file(a, "--key");
  if (o.cert_file.empty() != o.key_file.empty()) throw InputError("--cert and --key go together");
  o.server_name = a.get("--server-name");
  if (a.options.count("--token-file")) {
    std::ifstream in(readable_file(a, "--token-file"));
    std::getline(in, o.token);
    while (!o.token.empty() && std::isspace(static_cast<unsigned char>(o.token.back()))) o.token.pop_back();
  } else if (const char* t = std::getenv("LIGERBENCH_TOKEN")) {
    o.token = t;
  }
  return o;
}

v1::GetJobResponse fetch(v1::BenchService::Stub& stub, const ClientOptions& o, const std::string& id, bool results) {
  auto ctx = client::make_context(o, 60);
  v1::GetJobRequest req;
  req.set_job_id(id);
  req.set_include_results(results);
  v1::GetJobResponse resp;
  check(stub.GetJob(ctx.get(), req, &resp), "job " + id);
  return resp;
}

namespace {

// Progress on stderr: a redrawn bar on a terminal, one line per case otherwise.
class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), tty_(isatty(2) != 0) {}
  void event(const v1::JobEvent& e) {
    if (quiet_) return;
    if (e.has_case_result()) {
      if (!tty_) {
        std::cerr << progress_line(e.case_index(), e.total_cases(), e.case_result()) << "\n";
        return;
      }
      const int width = 30, total = std::max(1, e.total_cases());
      const int filled = width * e.done_cases() / total;
      const v1::CaseSpec& c = e.case_result().spec();
      std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << e.done_cases() << "/"
                << e.total_cases() << "  " << c.kernel() << " " << c.shape_label() << " " << c.dtype() << " " << c.mode()
                << " " << c.provider() << "\033[K" << std::flush;
      drawn_ = true;
    } else if (e.has_state_change()) {
      if (drawn_) std::cerr << "\n";
      drawn_ = false;
      std::cerr << "job " << e.job_id() << ": " << job_state_name(e.state_change())
                << (e.message().empty() ? "" : " (" + e.message() + ")") << "\n";
    }
  }

 private:
  bool quiet_, tty_, drawn_ = false;
};

// Follows a job to its end, reconnecting (from the last event seen) when the stream breaks.
v1::JobState watch(v1::BenchService::Stub& stub, const ClientOptions& o, const std::string& id, Progress& progress) {
  int64_t last = 0;
  int failures = 0;
  while (true) {
    auto ctx = client::make_context(o);
    v1::WatchJobRequest req;
    req.set_job_id(id);
    req.set_after_seq(last);
    auto reader = stub.WatchJob(ctx.get(), req);
    v1::JobEvent e;
    v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
    while (reader->Read(&e)) {
      failures = 0;
      last = e.seq();
      state = e.state();
      progress.event(e);
    }
    const grpc::Status s = reader->Finish();
    if (s.ok() && is_final(state)) return state;
    if (s.ok() || s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::CANCELLED) {
      if (++failures > 60) check(s, "watching job " + id);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    check(s, "watching job " + id);
  }
}

// The result table (and the JSON file); exit 0 when the job finished with every case passing.
int show_results(const v1::GetJobResponse& r, const std::string& out) {
  print_table(std::cout, r.result());
  std::cout << "job " << r.job().id() << ": " << job_state_name(r.job().state())
            << (r.job().message().empty() ? "" : " (" + r.job().message() + ")") << "\n";
  if (!out.empty()) {
    write_json_file(r.result(), out);
    std::cerr << "results written to " << out << "\n";
  }
  return r.job().state() == v1::JOB_STATE_FINISHED && r.job().failed_cases() == 0 ? 0 : 1;
}

// "spec.cases[0].kernel: unknown ..." -> "suite.yaml:4: key 'cases[0].kernel': unknown ..." (the
// nearest enclosing key that has a line); other messages are prefixed with the file name.
std::string locate(const std::string& message, const std::string& file, const SourceLines& lines) {
  std::string out;
  std::istringstream parts(message);
  std::string part;
  while (std::getline(parts, part, ';')) {
    while (!part.empty() && part[0] == ' ') part.erase(0, 1);
    const auto colon = part.find(": ");
    const std::string path = colon == std::string::npos ? "" : part.substr(0, colon);
    if (path.rfind("spec.", 0) != 0) {
      out += (out.empty() ? "" : "\n") + file + ": " + part;
      continue;
    }
    out += (out.empty() ? "" : "\n") + locate_problem({path.substr(5), part.substr(colon + 2)}, file, lines);
  }
  return out;
}

int cmd_submit(const Args& a) {
  if (a.positional.size() != 1) throw InputError("submit needs exactly one suite file");
  const ClientOptions o = connection(a);
  // The server validates against its own registry (it may know kernels this CLI does not); its
  // answer names the field, which maps back to a line of the file.
  const std::string suite = a.positional[0];
  const std::string out = a.get("--out");
  if (!out.empty()) check_writable(out, "--out");
  const auto push = push_target(a);
  if (push && !a.flags.count("--wait")) throw InputError("--push-gateway on submit needs --wait");
  v1::SubmitJobRequest req;
  SourceLines lines;
  yaml_to_message(load_yaml_file(suite), req.mutable_spec(), suite, &lines);
  compile_filter(a.get("--filter"));  // the server's check, before any connection
  req.set_filter(a.get("--filter"));
  if (a.options.count("--priority"))
    req.mutable_spec()->set_priority(static_cast<int>(cli::int_flag(a, "--priority", 0, kMinPriority, kMaxPriority)));
  // The server holds the maximum (and says it); here only what is not a number of seconds at all.
  req.set_timeout_s(cli::number_flag(a, "--timeout", 0, 0, 1e12));
  auto stub = v1::BenchService::NewStub(client::make_channel(o));
  auto ctx = client::make_context(o, 60);
  v1::SubmitJobResponse resp;
  const grpc::Status status = stub->SubmitJob(ctx.get(), req, &resp);
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) throw InputError(locate(status.error_message(), suite, lines));
  check(status, "submit " + suite);
  std::cout << resp.job_id() << std::endl;
  if (!a.flags.count("--wait") && out.empty()) {
    std::cerr << "submitted job " << resp.job_id() << " (" << resp.total_cases() << " cases) to " << o.server << "\n";
    return 0;
  }
  Progress progress(a.flags.count("--quiet") > 0);
  watch(*stub, o, resp.job_id(), progress);
  const auto done = fetch(*stub, o, resp.job_id(), true);
  const int exit_status = show_results(done, out);
  if (push) push_run(*push, done.result());
  return exit_status;
}

int cmd_jobs(const Args& a) {
  const ClientOptions o = connection(a);
  auto stub = v1::BenchService::NewStub(client::make_channel(o));
  v1::ListJobsRequest req;
  req.set_page_size(static_cast<int>(cli::int_flag(a, "--limit", 50, 1, 1000)));  // the server's page size range
  for (auto [it, end] = a.repeated.equal_range("--state"); it != end; ++it) {
    v1::JobState s;
    std::string name = "JOB_STATE_" + it->second;
    for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!v1::JobState_Parse(name, &s)) throw InputError("--state '" + it->second + "': unknown state");
    req.add_states(s);
  }
  for (auto [it, end] = a.repeated.equal_range("--label"); it != end; ++it) {
    const auto eq = it->second.find('=');
    if (eq == std::string::npos) throw InputError("--label '" + it->second + "': expected KEY=VALUE");
    (*req.mutable_labels())[it->second.substr(0, eq)] = it->second.substr(eq + 1);
  }
  auto ctx = client::make_context(o, 60);
  v1::ListJobsResponse resp;
  check(stub->ListJobs(ctx.get(), req, &resp), "jobs");
  std::printf("%-20s %-10s %-20s %-10s %-7s %s\n", "id", "state", "name", "cases", "failed", "submitted");
  for (const auto& j : resp.jobs())
    std::printf("%-20s %-10s %-20s %-10s %-7d %s\n", j.id().c_str(), job_state_name(j.state()).c_str(),
                j.spec().name().c_str(), (std::to_string(j.done_cases()) + "/" + std::to_string(j.total_cases())).c_str(),
                j.failed_cases(), j.submitted_at().c_str());
  return 0;
}

int cmd_status(const Args& a) {
  if (a.positional.size() != 1) throw InputError("status needs a job id");
  const ClientOptions o = connection(a);
  auto stub = v1::BenchService::NewStub(client::make_channel(o));
  const auto r = fetch(*stub, o, a.positional[0], false);
  const auto& j = r.job();
  std::cout << "job " << j.id() << " (" << j.spec().name() << "): " << job_state_name(j.state()) << "\n"
            << "  cases " << j.done_cases() << "/" << j.total_cases() << ", failed " << j.failed_cases() << "\n"
            << "  devices";
  for (const auto& d : j.devices()) std::cout << " " << d;
  std::cout << "\n  submitted " << j.submitted_at() << (j.started_at().empty() ? "" : ", started " + j.started_at())
            << (j.finished_at().empty() ? "" : ", finished " + j.finished_at()) << "\n";
  if (!j.message().empty()) std::cout << "  " << j.message() << "\n";
  return 0;
}

int cmd_cancel(const Args& a) {
  if (a.positional.size() != 1) throw InputError("cancel needs a job id");
  const ClientOptions o = connection(a);
  auto stub = v1::BenchService::NewStub(client::make_channel(o));
  auto ctx = client::make_context(o, 60);
  v1::CancelJobRequest req;
  req.set_job_id(a.positional[0]);
  v1::CancelJobResponse resp;
  check(stub->CancelJob(ctx.get(), req, &resp), "cancel " + a.positional[0]);
  std::cout << "job " << a.positional[0] << ": "
            << (resp.state() == v1::JOB_STATE_CANCELLED ? "cancelled" : "cancelling (stops after its current case)")
            << "\n";
  return 0;
}

int cmd_results(const Args& a) {
  if (a.positional.size() != 1) throw InputError("results needs a job id");
  if (!a.get("--out").empty()) check_writable(a.get("--out"), "--out");
  const ClientOptions o = connection(a);
  auto stub = v1::BenchService::NewStub(client::make_channel(o));
  return show_results(fetch(*stub, o, a.positional[0], true), a.get("--out"));
}

}  // namespace

std::set<std::string> with(std::set<std::string> extra) {
  extra.insert({"--server", "--ca", "--cert", "--key", "--token-file", "--server-name"});
  return extra;
}

bool is_client_command(const std::string& cmd) {
  return cmd == "submit" || cmd == "jobs" || cmd == "status" || cmd == "cancel" || cmd == "results";
}

int run_client_command(const std::string& cmd, int argc, char** argv) {
  try {
    if (cmd == "submit")
      return cmd_submit(parse_args(argc, argv, 2, with(with_push_options({"--filter", "--priority", "--timeout", "--out"})),
                                   {"--tls", "--wait", "--quiet"}));
    if (cmd == "jobs") return cmd_jobs(parse_args(argc, argv, 2, with({"--state", "--label", "--limit"}), {"--tls"}));
    if (cmd == "status") return cmd_status(parse_args(argc, argv, 2, with({}), {"--tls"}));
    if (cmd == "cancel") return cmd_cancel(parse_args(argc, argv, 2, with({}), {"--tls"}));
    return cmd_results(parse_args(argc, argv, 2, with({"--out"}), {"--tls"}));
  } catch (const RpcError& e) {
    std::cerr << "ligerbench: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace ligerbench::cli
