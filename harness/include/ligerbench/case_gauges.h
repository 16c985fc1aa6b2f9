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
  // ligerbench_kernel_latency_seconds, _peak_memory_bytes (when measured), _rel_error, its
  // _rel_error_tolerance and _accuracy_passed (when checked), _speedup_ratio (liger rows with a
  // baseline), and the roofline fractions _size_matched_copy_ratio, _bandwidth_ratio and
  // _compute_ratio (where the node's ceilings are known: CUDA).
  void set(const v1::CaseResult& r);

 private:
  prometheus::Family<prometheus::Gauge>& latency_;
  prometheus::Family<prometheus::Gauge>& peak_memory_;
  prometheus::Family<prometheus::Gauge>& rel_error_;
  prometheus::Family<prometheus::Gauge>& speedup_;
  prometheus::Family<prometheus::Gauge>& rel_error_tolerance_;
  prometheus::Family<prometheus::Gauge>& accuracy_passed_;
  prometheus::Family<prometheus::Gauge>& copy_ratio_;
  prometheus::Family<prometheus::Gauge>& bandwidth_ratio_;
  prometheus::Family<prometheus::Gauge>& compute_ratio_;
};

}  // namespace ligerbench
