#include "ligerbench/server/metrics.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "ligerbench/server/civetweb_probe.h"
#include "ligerbench/server/thread_stack_floor.h"
#include "ligerbench/version.h"

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

std::string state_name(v1::JobState s) {
  std::string n = v1::JobState_Name(s);
  if (n.rfind("JOB_STATE_", 0) == 0) n = n.substr(10);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  return n;
}

Metrics::Metrics(const std::string& listen)
    : registry_(std::make_shared<prometheus::Registry>()),
      latency_(BuildGauge()
                   .Name("ligerbench_kernel_latency_seconds")
                   .Help("Median latency of the last run of a case")
                   .Register(*registry_)),
      peak_memory_(BuildGauge()
                       .Name("ligerbench_kernel_peak_memory_bytes")
                       .Help("Peak memory allocated during a case above what was allocated before it")
                       .Register(*registry_)),
      rel_error_(BuildGauge()
                     .Name("ligerbench_kernel_rel_error")
                     .Help("Worst relative L2 error of a case's outputs and gradients against float64")
                     .Register(*registry_)),
      speedup_(BuildGauge()
                   .Name("ligerbench_kernel_speedup_ratio")
                   .Help("Baseline median latency over liger median latency")
                   .Register(*registry_)),
      rel_error_tolerance_(BuildGauge()
                               .Name("ligerbench_kernel_rel_error_tolerance")
                               .Help("Relative L2 tolerance of the tensor whose error ligerbench_kernel_rel_error reports")
                               .Register(*registry_)),
      accuracy_passed_(BuildGauge()
                           .Name("ligerbench_kernel_accuracy_passed")
                           .Help("1 when every output and gradient of a case met its tolerance, else 0")
                           .Register(*registry_)),
      copy_ratio_(BuildGauge()
                      .Name("ligerbench_kernel_size_matched_copy_ratio")
                      .Help("Achieved bandwidth over a device copy of the same bytes timed the same way (%copy)")
                      .Register(*registry_)),
      bandwidth_ratio_(BuildGauge()
                           .Name("ligerbench_kernel_bandwidth_ratio")
                           .Help("Achieved bandwidth over the node's measured copy bandwidth")
                           .Register(*registry_)),
      compute_ratio_(BuildGauge()
                         .Name("ligerbench_kernel_compute_ratio")
                         .Help("Achieved FLOP/s over the node's measured bf16 matmul rate")
                         .Register(*registry_)),
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
                           .Help("Worker processes that died during a case and were replaced")
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
  std::string outcome = !r.ok() ? "error" : (r.accuracy().checked() && !r.accuracy().passed()) ? "failed" : "passed";
  cases_.Add({{"outcome", outcome}}).Increment();
  if (!r.ok()) return;
  const std::map<std::string, std::string> labels = {
      {"kernel", r.kernel()}, {"provider", r.provider()}, {"mode", r.mode()},       {"dtype", r.dtype()},
      {"shape", r.shape_label()}, {"device", r.device()}, {"version", kVersion}};
  latency_.Add(labels).Set(r.timing().median_ms() * 1e-3);
  if (r.memory().measured()) peak_memory_.Add(labels).Set(static_cast<double>(r.memory().peak_bytes()));
  if (r.accuracy().checked()) {
    const v1::TensorError* worst = nullptr;
    for (const auto& t : r.accuracy().tensors())
      if (worst == nullptr || t.rel_l2() > worst->rel_l2()) worst = &t;
    rel_error_.Add(labels).Set(worst ? worst->rel_l2() : 0);
    if (worst) rel_error_tolerance_.Add(labels).Set(worst->rel_l2_tol());
    accuracy_passed_.Add(labels).Set(r.accuracy().passed() ? 1 : 0);
  }
  if (r.speedup() > 0) speedup_.Add(labels).Set(r.speedup());
  // The roofline fractions are 0 where the ceiling is unknown (no CUDA device): no series then.
  const auto& tp = r.throughput();
  if (tp.size_matched_fraction() > 0) copy_ratio_.Add(labels).Set(tp.size_matched_fraction());
  if (tp.bandwidth_fraction() > 0) bandwidth_ratio_.Add(labels).Set(tp.bandwidth_fraction());
  if (tp.compute_fraction() > 0) compute_ratio_.Add(labels).Set(tp.compute_fraction());
}

void Metrics::job_entered(v1::JobState state) { jobs_.Add({{"state", state_name(state)}}).Increment(); }

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
