#include "ligerbench/case_gauges.h"

#include <algorithm>

#include "ligerbench/version.h"

namespace ligerbench {

using prometheus::BuildGauge;

std::map<std::string, std::string> case_labels(const v1::CaseResult& r) {
  const v1::CaseSpec& c = r.spec();
  return {{"kernel", c.kernel()}, {"provider", c.provider()}, {"mode", c.mode()},   {"dtype", c.dtype()},
          {"shape", c.shape_label()}, {"device", c.device()}, {"version", kVersion}};
}

CaseGauges::CaseGauges(prometheus::Registry& registry)
    : latency_(BuildGauge()
                   .Name("ligerbench_kernel_latency_seconds")
                   .Help("Median latency of the last run of a case")
                   .Register(registry)),
      peak_memory_(BuildGauge()
                       .Name("ligerbench_kernel_peak_memory_bytes")
                       .Help("Peak memory allocated during a case above what was allocated before it")
                       .Register(registry)),
      rel_error_(BuildGauge()
                     .Name("ligerbench_kernel_rel_error")
                     .Help("Worst relative L2 error of a case's outputs and gradients against float64")
                     .Register(registry)),
      speedup_(BuildGauge()
                   .Name("ligerbench_kernel_speedup_ratio")
                   .Help("Baseline median latency over liger median latency")
                   .Register(registry)),
      rel_error_tolerance_(BuildGauge()
                               .Name("ligerbench_kernel_rel_error_tolerance")
                               .Help("Relative L2 tolerance of the tensor whose error ligerbench_kernel_rel_error reports")
                               .Register(registry)),
      accuracy_passed_(BuildGauge()
                           .Name("ligerbench_kernel_accuracy_passed")
                           .Help("1 when every output and gradient of a case met its tolerance, else 0")
                           .Register(registry)),
      copy_ratio_(BuildGauge()
                      .Name("ligerbench_kernel_size_matched_copy_ratio")
                      .Help("Achieved bandwidth over a device copy of the same bytes timed the same way (%copy)")
                      .Register(registry)),
      bandwidth_ratio_(BuildGauge()
                           .Name("ligerbench_kernel_bandwidth_ratio")
                           .Help("Achieved bandwidth over the node's measured copy bandwidth")
                           .Register(registry)),
      compute_ratio_(BuildGauge()
                         .Name("ligerbench_kernel_compute_ratio")
                         .Help("Achieved FLOP/s over the node's measured bf16 matmul rate")
                         .Register(registry)) {}

void CaseGauges::set(const v1::CaseResult& r) {
  if (!r.ok()) return;
  const auto labels = case_labels(r);
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

}  // namespace ligerbench
