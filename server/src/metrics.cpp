#include "ligerbench/server/metrics.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "ligerbench/case_outcome.h"
#include "ligerbench/job_state.h"
#include "ligerbench/server/civetweb_probe.h"
#include "ligerbench/server/thread_stack_floor.h"

namespace ligerbench::server {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Seconds from 10 ms to about 3 hours: CPU smoke jobs up to full GPU sweeps.
prometheus::Histogram::BucketBoundaries seconds_buckets() {
  return {0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000};
}

}  // namespace

Metrics::Metrics(const std::string& listen)
    : registry_(std::make_shared<prometheus::Registry>()),
      case_gauges_(*registry_),
      jobs_(BuildCounter().Name("ligerbench_jobs_total").Help("Jobs that entered each state").Register(*registry_)),
      cases_(BuildCounter().Name("ligerbench_cases_total").Help("Cases run, by outcome").Register(*registry_)),
      queue_depth_(BuildGauge()
                       .Name("ligerbench_queue_depth")
                       .Help("Jobs waiting in the queue")
                       .Register(*registry_)
                       .Add({})),
      job_duration_(BuildHistogram()
                        .Name("ligerbench_job_duration_seconds")
                        .Help("Time from a job's start to its end")
                        .Register(*registry_)
                        .Add({}, seconds_buckets())),
      queue_wait_(BuildHistogram()
                      .Name("ligerbench_queue_wait_seconds")
                      .Help("Time from a job's submission to its start")
                      .Register(*registry_)
                      .Add({}, seconds_buckets())),
      worker_restarts_(BuildCounter()
                           .Name("ligerbench_worker_restarts_total")
                           .Help("Worker processes that died during a case, or were killed for a hang, a time limit or a cancel, and were replaced")
                           .Register(*registry_)
                           .Add({})) {
  if (listen != "off") {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot serve Prometheus metrics on " + listen + " (metrics_listen): " + e.what() +
                               " [" + civetweb_start_error(listen) +
                               "; static TLS " + std::to_string(static_tls_bytes()) + " bytes]");
    }
    exposer_->RegisterCollectable(registry_);
  }
}

int Metrics::port() const {
  if (!exposer_) return 0;
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports[0];
}

void Metrics::case_finished(const v1::CaseResult& r) {
  cases_.Add({{"outcome", case_outcome(r)}}).Increment();
  case_gauges_.set(r);
}

void Metrics::job_entered(v1::JobState state) { jobs_.Add({{"state", job_state_name(state)}}).Increment(); }

void Metrics::job_started(double queue_wait_s) {
  job_entered(v1::JOB_STATE_RUNNING);
  queue_wait_.Observe(queue_wait_s);
}

void Metrics::job_finished(v1::JobState state, double duration_s) {
  job_entered(state);
  job_duration_.Observe(duration_s);
}

void Metrics::queue_depth(int depth) { queue_depth_.Set(depth); }

void Metrics::worker_restarted() { worker_restarts_.Increment(); }

}  // namespace ligerbench::server
