#pragma once
// A job's cases, named once: expansion turns sweeps into CaseSpecs (case.proto), and resolution
// turns one CaseSpec into what the runner needs, against the kernel registry, without validating
// or expanding a sweep again (the worker's path: admission already expanded the job).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ligerbench/kernel_spec.h"
#include "ligerbench/proto.h"

namespace ligerbench {

// One case to run: its CaseSpec, and the registry entry and parsed configuration it names.
struct Case {
  v1::CaseSpec case_spec;  // the identity every result, report and metric label carries
  const KernelSpec* spec = nullptr;
  CaseConfig config;
  Mode mode = Mode::kForward;
  Provider provider = Provider::kLiger;
  std::string pair_key;  // the key without the provider: liger and baseline of one pair share it
};

// "k1=v1,k2=v2" in key order: the params part of a case key.
std::string params_label(const std::map<std::string, std::string>& params);

// The CaseSpecs of every ordinary (not distributed) sweep of the job over `devices` (each "cpu"
// or "cuda:N"): the cartesian product of axes, devices, dtypes, modes, timing kinds and providers,
// with defaults filled in; within a pair the baseline comes first, so the liger row can report
// its speedup at once. The job must be valid (validate_job). Throws InputError (before
// allocating) when the job expands to more than kMaxCasesPerJob cases.
std::vector<v1::CaseSpec> expand_case_specs(const v1::JobSpec& job, const std::vector<std::string>& devices);

// The case a CaseSpec names, its inputs seeded by `seed`. Throws InputError naming the key when
// the registry has no such kernel, or a name (dtype, mode, provider, device) does not parse.
Case resolve_case(const v1::CaseSpec& spec, uint64_t seed);

// expand_case_specs, each resolved with the job's seed.
std::vector<Case> expand_cases(const v1::JobSpec& job, const std::vector<std::string>& devices);

}  // namespace ligerbench
