#include "push_cmd.h"

#include <iostream>

#include "ligerbench/report.h"

namespace ligerbench::cli {

std::set<std::string> with_push_options(std::set<std::string> extra) {
  extra.insert({"--push-gateway", "--push-job", "--push-instance"});
  return extra;
}

std::optional<PushTarget> push_target(const Args& a) {
  if (!a.options.count("--push-gateway")) {
    if (a.options.count("--push-job") || a.options.count("--push-instance"))
      throw InputError("--push-job and --push-instance need --push-gateway URL");
    return std::nullopt;
  }
  PushTarget t;
  t.url = a.get("--push-gateway");
  t.job = a.get("--push-job", t.job);
  t.instance = a.get("--push-instance");
  validate_push_target(t);  // before any work: a typo must not cost a whole run
  return t;
}

int cmd_push(int argc, char** argv) {
  const Args a = parse_args(argc, argv, 2, with_push_options({}), {});
  if (a.positional.size() != 1) throw InputError("push takes one result file: ligerbench push RESULTS.json --push-gateway URL");
  const auto target = push_target(a);
  if (!target) throw InputError("push needs --push-gateway URL");
  const v1::JobResult result = read_result_file(a.positional[0]);
  push_run(*target, result);
  std::cout << "pushed " << result.cases_size() << " cases of " << a.positional[0] << " to " << target->url
            << " (job " << target->job << ")\n";
  return 0;
}

}  // namespace ligerbench::cli
