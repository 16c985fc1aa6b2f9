#include "ligerbench/case_gauges.h"

#include <algorithm>

#include "ligerbench/version.h"

namespace ligerbench {

using prometheus::BuildGauge;

std::map<std::string, std::string> case_labels(const v1::CaseResult& r) {
  return {{"kernel", r.kernel()}, {"provider", r.provider()}, {"mode", r.mode()},   {"dtype", r.dtype()},
          {"shape", r.shape_label()}, {"device", r.device()}, {"version", kVersion}};
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
                   .Register(registry)) {}

void CaseGauges::set(const v1::CaseResult& r) {
  if (!r.ok()) return;
  const auto labels = case_labels(r);
  latency_.Add(labels).Set(r.timing().median_ms() * 1e-3);
  if (r.memory().measured()) peak_memory_.Add(labels).Set(static_cast<double>(r.memory().peak_bytes()));
  if (r.accuracy().checked()) {
    double worst = 0;
    for (const auto& t : r.accuracy().tensors()) worst = std::max(worst, t.rel_l2());
    rel_error_.Add(labels).Set(worst);
  }
  if (r.speedup() > 0) speedup_.Add(labels).Set(r.speedup());
}

}  // namespace ligerbench
