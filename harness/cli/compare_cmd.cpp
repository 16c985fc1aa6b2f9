#include "compare_cmd.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <iostream>

#include "args.h"
#include "client.h"
#include "ligerbench/compare.h"
#include "ligerbench/push.h"
#include "ligerbench/report.h"
#include "push_cmd.h"

namespace ligerbench::cli {
namespace {

struct Side {
  v1::JobResult result;
  std::string name;  // the file, or "job ID on HOST:PORT"
};

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A number option in [0, max], with an optional `suffix` ("%"); `expected` names the form.
double number_option(const Args& a, const std::string& option, double fallback, const std::string& suffix, double max,
                     const std::string& expected) {
  if (!a.options.count(option)) return fallback;
  std::string v = a.get(option);
  if (!suffix.empty() && v.size() >= suffix.size() && v.compare(v.size() - suffix.size(), suffix.size(), suffix) == 0)
    v.resize(v.size() - suffix.size());
  std::size_t used = 0;
  double x = -1;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || !(x >= 0 && x <= max))
    throw InputError(option + " '" + a.get(option) + "': expected " + expected);
  return x;
}

// "5%" or "5" (percent); 0 .. 1000%.
double percent(const Args& a, const std::string& option, double fallback) {
  return number_option(a, option, 100 * fallback, "%", 1000, "a percentage such as 5%") / 100;
}

// A duration in milliseconds, 0 .. 1000.
double milliseconds(const Args& a, const std::string& option, double fallback) {
  return number_option(a, option, fallback, "", 1000, "milliseconds from 0 to 1000, such as 0.002");
}

Side from_job(v1::BenchService::Stub& stub, const client::ClientOptions& o, const std::string& id) {
  auto resp = fetch(stub, o, id, /*results=*/true);
  if (resp.job().state() != v1::JOB_STATE_FINISHED)
    throw InputError("job " + id + " on " + o.server + " is " + v1::JobState_Name(resp.job().state()) +
                     ": compare needs a finished job");
  Side s{std::move(*resp.mutable_result()), "job " + id + " on " + o.server};
  if (s.result.job_id().empty()) s.result.set_job_id(id);
  return s;
}

// The newest finished job whose labels hold KEY=VALUE.
std::string newest_with_label(v1::BenchService::Stub& stub, const client::ClientOptions& o, const std::string& label) {
  const auto eq = label.find('=');
  if (eq == std::string::npos || eq == 0) throw InputError("--baseline-label '" + label + "': expected KEY=VALUE");
  v1::ListJobsRequest req;
  req.set_page_size(1);
  req.add_states(v1::JOB_STATE_FINISHED);
  (*req.mutable_labels())[label.substr(0, eq)] = label.substr(eq + 1);
  auto ctx = client::make_context(o, 60);
  v1::ListJobsResponse resp;
  check(stub.ListJobs(ctx.get(), req, &resp), "jobs labelled " + label);
  if (resp.jobs().empty()) throw InputError("--baseline-label " + label + ": no finished job with that label on " + o.server);
  return resp.jobs(0).id();
}

Side from_file(const std::string& path) {
  Side s{read_result_file(path), path};
  return s;
}

void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw InputError(path + ": cannot open for writing");
    out << text;
    if (!out) throw InputError(path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw InputError(path + ": cannot rename " + tmp + " into place");
}

// --history FILE (repeatable): earlier runs of the same build line, each checked like the
// baseline; their spread around the baseline raises each case's threshold (docs/COMPARE.md).
HistorySpread load_history(const Args& a, const v1::JobResult& baseline) {
  const auto [from, to] = a.repeated.equal_range("--history");
  const auto n = std::distance(from, to);
  if (n > kMaxHistoryRuns)
    throw InputError("--history given " + std::to_string(n) + " times, at most " + std::to_string(kMaxHistoryRuns) +
                     " earlier runs");
  std::vector<v1::JobResult> runs;
  std::vector<std::string> names;
  for (auto it = from; it != to; ++it) {
    runs.push_back(read_result_file(it->second));
    check_result_for_compare(runs.back(), it->second);
    names.push_back(it->second);
  }
  return history_spread(baseline, runs, names);
}

int compare(const Args& a) {
  const bool by_label = a.options.count("--baseline-label") > 0;
  const bool on_server = a.options.count("--server") > 0 || by_label;
  const std::size_t want = by_label ? 1 : 2;
  if (a.positional.size() != want)
    throw InputError(by_label ? "compare --baseline-label KEY=VALUE needs exactly one CURRENT (file or job id)"
                              : "compare needs BASELINE and CURRENT (result files, or job ids with --server)");
  CompareOptions opt;
  opt.threshold = percent(a, "--threshold", opt.threshold);
  opt.memory_threshold = percent(a, "--memory-threshold", opt.memory_threshold);
  opt.throttled_threshold = percent(a, "--throttled-threshold", opt.throttled_threshold);
  opt.time_floor_ms = milliseconds(a, "--time-floor-ms", opt.time_floor_ms);
  const auto push = push_target(a);

  std::unique_ptr<v1::BenchService::Stub> stub;
  client::ClientOptions conn;
  if (on_server) {
    conn = connection(a);
    stub = v1::BenchService::NewStub(client::make_channel(conn));
  }
  // With a server, an argument that names an existing file is still read as a file, so that a
  // local run can be compared with a stored baseline.
  auto load = [&](const std::string& arg) { return on_server && !is_file(arg) ? from_job(*stub, conn, arg) : from_file(arg); };
  Side base = by_label ? from_job(*stub, conn, newest_with_label(*stub, conn, a.get("--baseline-label")))
                       : load(a.positional[0]);
  Side cur = load(a.positional.back());
  check_result_for_compare(base.result, base.name);
  check_result_for_compare(cur.result, cur.name);
  opt.history = load_history(a, base.result);

  const auto report = compare_results(base.result, cur.result, opt, base.name, cur.name);
  if (a.flags.count("--strict-env") && report.environment_size() > 0) {
    std::string diff;
    for (const auto& e : report.environment())
      diff += "\n  " + e.field() + ": baseline '" + e.baseline() + "', current '" + e.current() + "'";
    throw InputError("the baseline's environment differs from the current run's (--strict-env):" + diff);
  }
  if (!a.flags.count("--quiet")) print_comparison(std::cout, report);
  if (a.options.count("--markdown")) write_text(a.get("--markdown"), comparison_markdown(report));
  if (a.options.count("--junit")) write_text(a.get("--junit"), comparison_junit(report));
  if (a.options.count("--json")) write_json_file(report, a.get("--json"));
  if (push) push_comparison(*push, report);
  return verdict_count(report, v1::VERDICT_REGRESSION) > 0 ? 1 : 0;
}

}  // namespace

int cmd_compare(int argc, char** argv) {
  try {
    return compare(parse_args(argc, argv, 2,
                              with(with_push_options({"--threshold", "--memory-threshold", "--throttled-threshold",
                                                      "--time-floor-ms", "--markdown", "--junit",
                                                      "--json", "--baseline-label", "--history"})),
                              {"--strict-env", "--tls", "--quiet"}));
  } catch (const RpcError& e) {
    std::cerr << "ligerbench: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace ligerbench::cli
