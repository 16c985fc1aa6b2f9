#pragma once
// The per-case gauges: one set of names and labels for the server's /metrics and for a push to a
// Pushgateway (`run --push-gateway`), so that dashboards and alerts read both the same way.
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

#include "ligerbench/proto.h"

namespace ligerbench {

// kernel, provider, mode, dtype, shape (the shape label), device, version (of this ligerbench).
std::map<std::string, std::string> case_labels(const v1::CaseResult& r);

class CaseGauges {
 public:
  explicit CaseGauges(prometheus::Registry& registry);
  // Sets the gauges of one case that ran (errored cases have no figures and are left out):
  // ligerbench_kernel_latency_seconds, _peak_memory_bytes (when measured), _rel_error (when
  // checked), _speedup_ratio (liger rows with a baseline).
  void set(const v1::CaseResult& r);

 private:
  prometheus::Family<prometheus::Gauge>& latency_;
  prometheus::Family<prometheus::Gauge>& peak_memory_;
  prometheus::Family<prometheus::Gauge>& rel_error_;
  prometheus::Family<prometheus::Gauge>& speedup_;
};

}  // namespace ligerbench
