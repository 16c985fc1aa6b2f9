#pragma once
// Suites: YAML files that parse into a JobSpec, validated against the kernel registry.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ligerbench/case_spec.h"
#include "ligerbench/kernel_spec.h"
#include "ligerbench/proto.h"
#include "ligerbench/yaml_proto.h"

namespace ligerbench {

// One problem in a JobSpec: the field path ("cases[1].dtypes[0]") and what is wrong with it.
struct SpecProblem {
  std::string path;
  std::string message;
};

// Bounds of a JobSpec's numeric fields; job.proto states them beside each field.
constexpr int64_t kMaxAxisValue = int64_t{1} << 40;
constexpr int kMinPriority = -1000;
constexpr int kMaxPriority = 1000;
// Problems listed in one error; the rest are counted.
constexpr std::size_t kMaxReportedProblems = 20;

// The most cases one job may expand to, whatever a caller allows (`ligerbench run --max-cases`,
// the server's max_cases_per_job): about 1 KB of memory per case.
constexpr uint64_t kMaxCasesPerJob = 1000000;

// Checks a JobSpec against the registry: kernels, axes, dtypes, modes, providers, params, devices,
// measurement options. Empty when valid. Used by the CLI and by the server's SubmitJob.
std::vector<SpecProblem> validate_job(const v1::JobSpec& job);

// "suite.yaml:4: key 'cases[0].kernel': unknown ...": the problem at the line of its path (or of
// the nearest enclosing path that has one) in the file it was parsed from.
std::string locate_problem(const SpecProblem& p, const std::string& file_name, const SourceLines& lines);

// Parses and validates a suite file. Throws InputError naming the file, line and key. The YAML
// is bounded first (size, depth, aliases: parse_yaml).
v1::JobSpec load_suite(const std::string& path);
v1::JobSpec parse_suite(const std::string& yaml_text, const std::string& file_name);

// The number of cases expand_case_specs (case_spec.h) gives for one sweep over `devices`
// devices, counted from the sweep's list sizes without expanding anything; saturates at UINT64_MAX (four axes of 65536
// values are 2^64 cases, which a plain product wraps to 0). 0 for an unknown kernel.
// `m`: the job's measurement options, whose `timing` a sweep without its own multiplies by.
uint64_t sweep_case_count(const v1::CaseSweep& sweep, std::size_t devices,
                          const v1::MeasurementOptions& m = v1::MeasurementOptions::default_instance());
// The sum over the job's sweeps, saturating.
uint64_t job_case_count(const v1::JobSpec& job, std::size_t devices);
// Throws InputError naming `where` (the suite file) when the job expands to more than
// `max_cases` (clamped to kMaxCasesPerJob) cases; `raise_hint` says how to allow more.
void check_case_count(const v1::JobSpec& job, std::size_t devices, uint64_t max_cases, const std::string& where,
                      const std::string& raise_hint);

}  // namespace ligerbench
