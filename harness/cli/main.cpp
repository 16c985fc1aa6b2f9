// ligerbench: list kernels, run a suite locally (and, with the server, submit and inspect jobs).
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ligerbench/crash_trace.h"
#include "ligerbench/distributed.h"
#include "ligerbench/kernel_info.h"
#include "ligerbench/registry.h"
#include "ligerbench/report.h"
#include "ligerbench/runner.h"
#include "ligerbench/suite.h"
#include "ligerbench/version.h"
#include "args.h"
#include "client.h"
#include "compare_cmd.h"
#include "push_cmd.h"
#include "report_html.h"

namespace {

using namespace ligerbench;
using cli::Args;
using cli::parse_args;

constexpr const char* kUsage = R"(usage:
  ligerbench kernels [--json]
  ligerbench run SUITE.yaml [--device cpu|cuda|cuda:N] [--out results.json] [--filter REGEX] [--max-cases N]
                 [--world-size N] [--quiet] [--remeasure-ceilings]
                 [--push-gateway URL [--push-job NAME] [--push-instance NAME]]
  ligerbench compare BASELINE CURRENT [--threshold 5%] [--memory-threshold 5%] [--throttled-threshold 10%]
                 [--time-floor-ms 0.002] [--strict-env] [--history EARLIER.json ...]
                 [--markdown FILE] [--junit FILE] [--json FILE] [--quiet] [--push-gateway URL ...]
      BASELINE, CURRENT: result files; with --server, job ids too; --baseline-label KEY=VALUE takes
      the newest finished job with that label on the server as BASELINE (then give CURRENT only)
      --history (up to 20): earlier runs of the same build; a case whose median moved by more
      than its threshold between them and the baseline is judged at that spread
      exit status: 0 no regression, 1 a regression, 2 bad input, 3 server unreachable
  ligerbench push RESULTS.json --push-gateway URL [--push-job NAME] [--push-instance NAME]
  ligerbench report RESULTS.json [CURRENT.json] --html FILE
  ligerbench version
against a ligerbenchd server (--server HOST:PORT, default $LIGERBENCH_SERVER or 127.0.0.1:50051):
  ligerbench submit SUITE.yaml [--filter REGEX] [--priority N] [--timeout S] [--wait] [--out FILE] [--quiet]
                 [--push-gateway URL [--push-job NAME] [--push-instance NAME]] (with --wait)
  ligerbench jobs [--state STATE] [--label KEY=VALUE] [--limit N]
  ligerbench status JOB_ID
  ligerbench cancel JOB_ID
  ligerbench results JOB_ID [--out FILE]
  connection options: --server HOST:PORT --tls --ca FILE --cert FILE --key FILE --server-name NAME
                      --token-file FILE (or $LIGERBENCH_TOKEN)

exit status: 0 all cases ran and passed, 1 some case failed or errored (or the job did not finish),
2 bad usage or bad suite, 3 the server could not be reached or refused the request
)";

int cmd_kernels(const Args& a) {
  const v1::ListKernelsResponse kernels = list_kernels();  // the same message as the server's ListKernels
  if (a.flags.count("--json")) {
    std::cout << to_json(kernels) << "\n";
    return 0;
  }
  auto joined = [](const google::protobuf::RepeatedPtrField<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  std::printf("%-28s %-12s %-24s %-16s %s\n", "kernel", "category", "modes", "backends", "dtypes");
  for (const auto& k : kernels.kernels())
    std::printf("%-28s %-12s %-24s %-16s %s\n", k.name().c_str(), k.category().c_str(), joined(k.modes()).c_str(),
                joined(k.backends()).c_str(), joined(k.dtypes()).c_str());
  return 0;
}

// What `run` expands without --max-cases: the server's default max_cases_per_job.
constexpr long long kRunDefaultMaxCases = 100000;

int cmd_run(const Args& a) {
  if (a.positional.size() != 1) throw InputError("run needs exactly one suite file");
  // Read by device_ceilings (ceilings.h) here and in the rank processes this run starts.
  if (a.flags.count("--remeasure-ceilings")) setenv("LIGERBENCH_REMEASURE_CEILINGS", "1", 1);
  const std::string suite = a.positional[0];
  const long long max_cases =
      cli::int_flag(a, "--max-cases", kRunDefaultMaxCases, 1, static_cast<long long>(kMaxCasesPerJob));
  const std::string out = a.get("--out");
  if (!out.empty()) check_writable(out, "--out");  // before any work, not after the last case
  v1::JobSpec job = load_suite(suite);
  std::vector<std::string> requested;
  if (auto it = a.options.find("--device"); it != a.options.end()) requested.push_back(it->second);
  const auto devices = resolve_devices(job, requested);
  check_case_count(job, devices.size(), static_cast<uint64_t>(max_cases), suite,
                   static_cast<uint64_t>(max_cases) < kMaxCasesPerJob
                       ? "--max-cases raises the limit up to " + std::to_string(kMaxCasesPerJob)
                       : "the most a run may have; split the suite");
  const std::string filter = a.get("--filter");
  const auto cases = select_cases(job, devices, filter);
  // Distributed cases (docs/DISTRIBUTED.md): --world-size overrides each case's world_size.
  const auto world_size = static_cast<int>(cli::int_flag(a, "--world-size", 0, 1, 64));
  const auto distributed = expand_distributed(job, devices, world_size, filter, suite);
  if (cases.empty() && distributed.empty()) throw InputError(suite + ": no case matches --filter '" + quote_truncated(filter) + "'");
  check_backends(cases);
  const bool quiet = a.flags.count("--quiet") > 0;
  const auto push = cli::push_target(a);

  std::cerr << "ligerbench " << kVersion << ": " << cases.size() + distributed.size() << " cases of " << suite << " on ";
  for (const auto& d : devices) std::cerr << d << " ";
  std::cerr << "\n";
  v1::NodeInfo node = node_info(devices);
  RunCallbacks cb;
  if (!quiet) cb.on_result = [](int i, int n, const v1::CaseResult& r) { std::cerr << progress_line(i, n, r) << "\n"; };
  v1::JobResult result = run_cases(job, cases, cb);
  const int total = static_cast<int>(cases.size() + distributed.size());
  for (std::size_t i = 0; i < distributed.size(); ++i) {
    v1::CaseResult r = run_distributed_case(distributed[i]);
    if (case_failed(r)) result.set_failed_cases(result.failed_cases() + 1);
    if (cb.on_result) cb.on_result(static_cast<int>(cases.size() + i), total, r);
    *result.add_cases() = std::move(r);
  }
  *result.mutable_node() = node;
  print_table(std::cout, result);
  if (!out.empty()) {
    write_json_file(result, out);
    std::cerr << "results written to " << out << "\n";
  }
  if (push) push_run(*push, result);
  return result.failed_cases() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ligerbench::install_crash_trace();  // a crash (here or in a rank) prints where, before it ends the process
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "kernels") return cmd_kernels(parse_args(argc, argv, 2, {}, {"--json"}));
    if (cmd == "__rank") return rank_main(argc, argv);  // a rank of a distributed case (the launcher starts it)
    if (cmd == "run")
      return cmd_run(parse_args(argc, argv, 2,
                                cli::with_push_options({"--device", "--out", "--filter", "--max-cases", "--world-size"}),
                                {"--quiet", "--remeasure-ceilings"}));
    if (cmd == "compare") return cli::cmd_compare(argc, argv);
    if (cli::is_client_command(cmd)) return cli::run_client_command(cmd, argc, argv);
    if (cmd == "report") return cli::run_report_command(argc, argv);
    if (cmd == "push") return cli::cmd_push(argc, argv);
    if (cmd == "version") {
      std::cout << "ligerbench " << kVersion << "\n";
      return 0;
    }
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
      std::cout << kUsage;
      return 0;
    }
    std::cerr << "ligerbench: unknown command '" << cmd << "'\n" << kUsage;
    return 2;
  } catch (const InputError& e) {
    std::cerr << "ligerbench: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ligerbench: " << e.what() << "\n";
    return 1;
  }
}
