// ligerbench: list kernels, run a suite locally (and, with the server, submit and inspect jobs).
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ligerbench/registry.h"
#include "ligerbench/report.h"
#include "ligerbench/runner.h"
#include "ligerbench/suite.h"
#include "ligerbench/version.h"
#include "args.h"
#include "client.h"
#include "report_html.h"

namespace {

using namespace ligerbench;
using cli::Args;
using cli::parse_args;

constexpr const char* kUsage = R"(usage:
  ligerbench kernels [--json]
  ligerbench run SUITE.yaml [--device cpu|cuda|cuda:N] [--out results.json] [--filter REGEX] [--quiet]
  ligerbench version
against a ligerbenchd server (--server HOST:PORT, default $LIGERBENCH_SERVER or 127.0.0.1:50051):
  ligerbench submit SUITE.yaml [--filter REGEX] [--priority N] [--timeout S] [--wait] [--out FILE] [--quiet]
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
  if (a.flags.count("--json")) {
    std::cout << "[";
    bool first = true;
    for (const auto& k : kernel_registry()) {
      std::cout << (first ? "\n" : ",\n") << "  {\"name\": \"" << k.name << "\", \"category\": \"" << k.category
                << "\", \"modes\": [";
      for (std::size_t i = 0; i < k.modes.size(); ++i) std::cout << (i ? ", " : "") << "\"" << mode_name(k.modes[i]) << "\"";
      std::cout << "], \"dtypes\": [";
      for (std::size_t i = 0; i < k.dtypes.size(); ++i) std::cout << (i ? ", " : "") << "\"" << k.dtypes[i] << "\"";
      std::cout << "], \"backends\": [";
      const auto b = kernel_backends(k);
      for (std::size_t i = 0; i < b.size(); ++i) std::cout << (i ? ", " : "") << "\"" << b[i] << "\"";
      std::cout << "]}";
      first = false;
    }
    std::cout << "\n]\n";
    return 0;
  }
  std::printf("%-28s %-12s %-24s %-16s %s\n", "kernel", "category", "modes", "backends", "dtypes");
  for (const auto& k : kernel_registry()) {
    std::string modes, backends, dtypes;
    for (Mode m : k.modes) modes += (modes.empty() ? "" : ",") + std::string(mode_name(m));
    for (const auto& b : kernel_backends(k)) backends += (backends.empty() ? "" : ",") + b;
    for (const auto& d : k.dtypes) dtypes += (dtypes.empty() ? "" : ",") + d;
    std::printf("%-28s %-12s %-24s %-16s %s\n", k.name.c_str(), k.category.c_str(), modes.c_str(), backends.c_str(),
                dtypes.c_str());
  }
  return 0;
}

int cmd_run(const Args& a) {
  if (a.positional.size() != 1) throw InputError("run needs exactly one suite file");
  const std::string suite = a.positional[0];
  v1::JobSpec job = load_suite(suite);
  std::vector<std::string> requested;
  if (auto it = a.options.find("--device"); it != a.options.end()) requested.push_back(it->second);
  const auto devices = resolve_devices(job, requested);
  const std::string filter = a.options.count("--filter") ? a.options.at("--filter") : "";
  const auto cases = select_cases(job, devices, filter);
  if (cases.empty()) throw InputError(suite + ": no case matches --filter '" + filter + "'");
  check_backends(cases);
  const std::string out = a.options.count("--out") ? a.options.at("--out") : "";
  const bool quiet = a.flags.count("--quiet") > 0;

  std::cerr << "ligerbench " << kVersion << ": " << cases.size() << " cases of " << suite << " on ";
  for (const auto& d : devices) std::cerr << d << " ";
  std::cerr << "\n";
  v1::NodeInfo node = node_info(devices);
  RunCallbacks cb;
  if (!quiet) cb.on_result = [](int i, int n, const v1::CaseResult& r) { std::cerr << progress_line(i, n, r) << "\n"; };
  v1::JobResult result = run_cases(job, cases, cb);
  *result.mutable_node() = node;
  print_table(std::cout, result);
  if (!out.empty()) {
    write_json_file(result, out);
    std::cerr << "results written to " << out << "\n";
  }
  return result.failed_cases() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "kernels") return cmd_kernels(parse_args(argc, argv, 2, {}, {"--json"}));
    if (cmd == "run") return cmd_run(parse_args(argc, argv, 2, {"--device", "--out", "--filter"}, {"--quiet"}));
    if (cli::is_client_command(cmd)) return cli::run_client_command(cmd, argc, argv);
    if (cmd == "report") return cli::run_report_command(argc, argv);
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
