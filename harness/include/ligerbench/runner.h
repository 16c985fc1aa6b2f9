#pragma once
// Runs the cases of a job: inputs, timing, memory, accuracy against float64, speedup per pair.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ligerbench/case_outcome.h"
#include "ligerbench/measure.h"
#include "ligerbench/proto.h"
#include "ligerbench/suite.h"

namespace ligerbench {

struct RunCallbacks {
  std::function<void(int index, int total, const Case& c)> on_start;            // before each case
  std::function<void(int index, int total, const v1::CaseResult& r)> on_result;  // after each case
  std::function<bool()> cancelled;                                              // checked between cases
};

// Devices to run on: `requested` (CLI override) or the job's, else cuda:0 when a GPU is
// visible, else cpu. Throws InputError for a device that does not exist here.
std::vector<std::string> resolve_devices(const v1::JobSpec& job, const std::vector<std::string>& requested);

// Checks that every kernel of the job has a backend on every device; throws InputError otherwise.
void check_backends(const std::vector<Case>& cases);

// Derives speedup and memory ratio of each liger row from its baseline (same pair_key) as results
// arrive in case order (the baseline of a pair comes first). Shared by run_cases and the server.
class PairDeriver {
 public:
  void apply(const Case& c, v1::CaseResult& r);

 private:
  std::map<std::string, v1::CaseResult> baselines_;  // pair_key -> baseline result
};

// A result that names its case (its CaseSpec) and holds nothing else yet.
v1::CaseResult case_identity(const Case& c);

// What a caller other than run_case (the distributed consistency check) needs from the
// accuracy check: a change to the seeded inputs before the kernel runs, and the kernel's
// outputs and input gradients ("out", "grad_<input>") as it computed them.
struct AccuracyHooks {
  std::function<void(KernelInputs&)> adjust_inputs;
  std::vector<std::pair<std::string, at::Tensor>>* produced = nullptr;
};

// The case's kernel on its seeded inputs against the float64 reference (outputs and, beyond
// forward mode, input gradients).
v1::Accuracy accuracy_of(const Case& c, const AccuracyHooks& hooks = {});

// Runs one case. Never throws: a failure is recorded in the result's error.
v1::CaseResult run_case(const Case& c, const MeasureOptions& opt);

// Runs the cases (already expanded and filtered) and derives speedups per liger/baseline pair.
v1::JobResult run_cases(const v1::JobSpec& job, const std::vector<Case>& cases, const RunCallbacks& cb);

// Cases of the job whose key matches `filter` (an RE2 regex, unanchored; empty: all). Throws
// InputError naming `filter` for a bad pattern, or a job over kMaxCasesPerJob.
std::vector<Case> select_cases(const v1::JobSpec& job, const std::vector<std::string>& devices, const std::string& filter);
// The same cases unresolved: their CaseSpecs, in index order.
std::vector<v1::CaseSpec> select_case_specs(const v1::JobSpec& job, const std::vector<std::string>& devices,
                                            const std::string& filter);

// Host, versions, devices and measured ceilings (copy bandwidth, bf16 matmul) of this node.
v1::NodeInfo node_info(const std::vector<std::string>& devices);

}  // namespace ligerbench
