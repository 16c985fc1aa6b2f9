#include "push_cmd.h"

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

}  // namespace ligerbench::cli
