#pragma once
// --push-gateway URL [--push-job NAME] [--push-instance NAME]: the options of run, submit --wait
// and compare that push their metrics to a Prometheus Pushgateway.
#include <optional>
#include <set>
#include <string>

#include "args.h"
#include "ligerbench/push.h"

namespace ligerbench::cli {

// `extra` plus the three push options.
std::set<std::string> with_push_options(std::set<std::string> extra);
// The validated target, or nullopt without --push-gateway (then --push-job/--push-instance are errors).
std::optional<PushTarget> push_target(const Args& a);

// `ligerbench push RESULTS.json --push-gateway URL [...]`: the per-case gauges of a stored result
// file, as `run --push-gateway` would have pushed them (a run made where no gateway was reachable,
// or a GPU node's file shown on a shared dashboard). Returns the exit status.
int cmd_push(int argc, char** argv);

}  // namespace ligerbench::cli
