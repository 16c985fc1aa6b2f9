#pragma once
// Prometheus metrics of the server, served by prometheus-cpp's Exposer on /metrics.
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "ligerbench/case_gauges.h"
#include "ligerbench/v1/service.pb.h"

namespace ligerbench::server {

class Metrics {
 public:
  // listen: "host:port" (port 0: any free one) or "off" (metrics kept but not served).
  explicit Metrics(const std::string& listen);
  int port() const;  // the bound port, 0 when not served

  // Per-case gauges (latency, peak memory, worst rel error and its tolerance, pass, speedup,
  // roofline fractions) and cases_total{outcome}.
  void case_finished(const v1::CaseResult& r);
  // jobs_total{state}: every job that entered `state` (queued counts submissions).
  void job_entered(v1::JobState state);
  void job_started(double queue_wait_s);
  void job_finished(v1::JobState state, double duration_s);
  void queue_depth(int depth);
  void worker_restarted();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  CaseGauges case_gauges_;  // the same names and labels as a Pushgateway push (ligerbench/case_gauges.h)
  prometheus::Family<prometheus::Counter>& jobs_;
  prometheus::Family<prometheus::Counter>& cases_;
  prometheus::Gauge& queue_depth_;
  prometheus::Histogram& job_duration_;
  prometheus::Histogram& queue_wait_;
  prometheus::Counter& worker_restarts_;
};


}  // namespace ligerbench::server
