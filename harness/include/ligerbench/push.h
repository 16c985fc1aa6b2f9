#pragma once
// Pushes a run's or a comparison's metrics to a Prometheus Pushgateway (prometheus-cpp's push
// client), for CI runs that have no long-lived server to scrape.
#include <string>

#include "ligerbench/proto.h"
#include "ligerbench/v1/compare.pb.h"

namespace ligerbench {

struct PushTarget {
  std::string url;                         // http://host:port of the Pushgateway
  std::string job = "ligerbench_nightly";  // the grouping key: job and instance labels
  std::string instance;                    // empty: this host's name
};

// Checks the URL (http://host:port, nothing after the port but an optional "/") and the job and
// instance names (letters, digits, '_', '-', '.'; they become URL path segments). Throws
// InputError naming the bad value.
void validate_push_target(const PushTarget& t);

// The per-case gauges of `result` (ligerbench/case_gauges.h), replacing everything the group
// held before (HTTP PUT): a case dropped from the suite does not linger on the gateway.
void push_run(const PushTarget& t, const v1::JobResult& result);

// ligerbench_compare_ratio{kernel,provider,mode,dtype,shape,device,verdict} (current / baseline
// median, cases with a time comparison) and ligerbench_compare_cases{verdict}, added to the
// group beside a run's gauges (HTTP POST: replaces only metrics of these names).
void push_comparison(const PushTarget& t, const v1::ComparisonReport& report);

}  // namespace ligerbench
