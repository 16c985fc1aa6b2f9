#pragma once
// Suites: YAML files that parse into a JobSpec, validated against the kernel registry.
#include <string>
#include <vector>

#include "ligerbench/kernel_spec.h"
#include "ligerbench/proto.h"
#include "ligerbench/yaml_proto.h"

namespace ligerbench {

// One problem in a JobSpec: the field path ("cases[1].dtypes[0]") and what is wrong with it.
struct SpecProblem {
  std::string path;
  std::string message;
};

// Checks a JobSpec against the registry: kernels, axes, dtypes, modes, providers, params, devices,
// measurement options. Empty when valid. Used by the CLI and by the server's SubmitJob.
std::vector<SpecProblem> validate_job(const v1::JobSpec& job);

// Parses and validates a suite file. Throws InputError naming the file, line and key.
v1::JobSpec load_suite(const std::string& path);
v1::JobSpec parse_suite(const std::string& yaml_text, const std::string& file_name);

// One case to run: a kernel in one configuration, mode and provider.
struct Case {
  const KernelSpec* spec = nullptr;
  CaseConfig config;
  Mode mode = Mode::kForward;
  Provider provider = Provider::kLiger;
  std::string key;        // kernel|shape|dtype|mode|provider|params|device
  std::string pair_key;   // the key without the provider: liger and baseline of one pair share it
  std::string shape_label;
};

// Cartesian expansion of every sweep over `devices` (each "cpu" or "cuda:N"). Within a pair the
// baseline comes first, so the liger row can report its speedup at once.
std::vector<Case> expand_cases(const v1::JobSpec& job, const std::vector<std::string>& devices);

}  // namespace ligerbench
