#include "ligerbench/server/admission.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ligerbench/distributed.h"
#include "ligerbench/key_filter.h"
#include "ligerbench/registry.h"
#include "ligerbench/server/config.h"
#include "ligerbench/server/messages.h"
#include "ligerbench/runner.h"
#include "ligerbench/suite.h"

namespace ligerbench::server {
namespace {

grpc::Status invalid(const std::string& field, const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, field + ": " + message);
}

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  return buf;
}

}  // namespace

std::string exceeds_device_memory(const Case& c, const std::map<std::string, int64_t>& device_memory) {
  if (!c.spec->memory_estimate) return "";
  const double need = c.spec->memory_estimate(c.config);
  const auto mem = device_memory.find(c.config.device.str());
  if (mem == device_memory.end() || mem->second <= 0 || need <= static_cast<double>(mem->second)) return "";
  return "case " + c.case_spec.key() + " needs about " + gib(need) + " on " + c.config.device.str() + ", which has " +
         gib(static_cast<double>(mem->second));
}

grpc::Status admit(const v1::SubmitJobRequest& req, const AdmissionLimits& limits, v1::Job* job,
                   v1::CaseSpecList* cases) {
  const v1::JobSpec& spec = req.spec();
  // Every sweep is at least one case: a spec with more sweeps than the job may have cases is
  // refused before any per-sweep work.
  if (spec.cases_size() > limits.max_cases_per_job)
    return invalid("spec.cases", std::to_string(spec.cases_size()) + " sweeps: the job would have more than max_cases_per_job (" +
                                     std::to_string(limits.max_cases_per_job) + ") cases");
  if (const auto problems = validate_job(spec); !problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + ("spec." + p.path) + ": " + p.message;
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
  }
  if (!(req.timeout_s() >= 0 && req.timeout_s() <= limits.max_job_timeout_s))  // also false for NaN
    return invalid("timeout_s", "must be a finite number of seconds from 0 to " + format_number(limits.max_job_timeout_s) +
                                    " (the server's max_job_timeout_s; 0: its default of " +
                                    format_number(limits.default_timeout_s) + " s), got " + format_number(req.timeout_s()));

  // Devices: each must be in the server's pool ("cuda" means cuda:0); none given: the default.
  std::vector<std::string> devices;
  for (int i = 0; i < spec.devices_size(); ++i) {
    std::string d = spec.devices(i) == "cuda" ? "cuda:0" : spec.devices(i);
    if (std::find(limits.devices.begin(), limits.devices.end(), d) == limits.devices.end()) {
      std::string pool;
      for (const auto& p : limits.devices) pool += (pool.empty() ? "" : ", ") + p;
      return invalid("spec.devices[" + std::to_string(i) + "]", "device " + quote_input(d) + " is not served here (devices: " + pool + ")");
    }
    if (std::find(devices.begin(), devices.end(), d) == devices.end()) devices.push_back(d);
  }
  if (devices.empty()) devices.push_back(limits.devices.at(0));

  // RE2, compiled once: matching is linear in the key whatever the pattern (issue: std::regex
  // on '(.*)*Q' never returned and held a callback thread).
  const KeyFilter keep(req.filter());
  if (!keep.ok()) return invalid("filter", "'" + quote_truncated(req.filter()) + "': " + keep.error());

  // Sweep by sweep, so a problem names its sweep; the kept cases, in order, are the job's (the
  // same order as expanding the whole job: expand_case_specs goes sweep by sweep too).
  v1::CaseSpecList kept;
  int total = 0;
  const uint64_t max_cases = std::min<uint64_t>(static_cast<uint64_t>(std::max(0, limits.max_cases_per_job)), kMaxCasesPerJob);
  for (int i = 0; i < spec.cases_size(); ++i) {
    const std::string at = "spec.cases[" + std::to_string(i) + "]";
    v1::JobSpec one;
    *one.add_cases() = spec.cases(i);
    *one.mutable_measurement() = spec.measurement();
    // Counted (saturating: 2^64 cases must not wrap to 0) before expanding, so a huge sweep is
    // refused without allocating its cases. total <= max_cases here, so the subtraction is safe.
    const uint64_t n = sweep_case_count(spec.cases(i), devices.size(), spec.measurement());
    if (n > max_cases - static_cast<uint64_t>(total))
      return invalid(at, "the job expands to more than max_cases_per_job (" + std::to_string(max_cases) +
                             ") cases (this sweep: " + (n == UINT64_MAX ? std::string("2^64 or more") : std::to_string(n)) +
                             ")");
    for (const Case& c : expand_cases(one, devices)) {
      if (!keep.matches(c.case_spec.key())) continue;
      ++total;
      *kept.add_cases() = c.case_spec;
      const auto backends = kernel_backends(*c.spec);
      const std::string want = c.config.device.is_cuda() ? "cuda" : "cpu";
      if (std::find(backends.begin(), backends.end(), want) == backends.end())
        return invalid(at + ".kernel", "kernel '" + c.spec->name + "' has no " + want + " implementation in this build");
      if (const std::string too_big = exceeds_device_memory(c, limits.device_memory); !too_big.empty())
        return invalid(at + ".shape", too_big);
    }
  }
  // Distributed sweeps (docs/DISTRIBUTED.md) expand apart: one case each runs on its ranks.
  try {
    const auto distributed = expand_distributed(spec, devices, 0, req.filter(), "spec");
    if (distributed.size() > max_cases - static_cast<uint64_t>(total))
      return invalid("spec.cases", "the job expands to more than max_cases_per_job (" + std::to_string(max_cases) + ") cases");
    total += static_cast<int>(distributed.size());
  } catch (const InputError& e) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
  }
  if (total == 0) return invalid("filter", "no case of the spec matches " + quote_input(req.filter()));

  job->Clear();
  *job->mutable_spec() = spec;
  job->set_filter(req.filter());
  for (const auto& d : devices) job->add_devices(d);
  job->set_timeout_s(req.timeout_s() > 0 ? req.timeout_s() : limits.default_timeout_s);
  job->set_total_cases(total);
  *cases = std::move(kept);
  return grpc::Status::OK;
}

}  // namespace ligerbench::server
