#pragma once
// SubmitJob's checks, before anything is queued: the spec against the kernel registry, devices
// against the server's pool, the filter, the case count, and whether each case's inputs fit its
// device. A rejection names the request field ("spec.cases[0].shape") and says what is wrong.
#include <grpcpp/support/status.h>

#include <map>
#include <string>
#include <vector>

#include "ligerbench/case_spec.h"
#include "ligerbench/v1/service.pb.h"

namespace ligerbench::server {

struct AdmissionLimits {
  std::vector<std::string> devices;                 // the pool; the first is the default
  std::map<std::string, int64_t> device_memory;     // bytes per device
  int max_cases_per_job = 100000;
  double default_timeout_s = 3600;
  double max_job_timeout_s = 7 * 24 * 3600;         // a request's timeout_s: 0 .. this
};

// "" when the case's inputs fit its device (by its spec's memory_estimate against
// device_memory; a device not listed, or a spec without an estimate, fits), else
// "case KEY needs about X GiB on DEV, which has Y GiB".
std::string exceeds_device_memory(const Case& c, const std::map<std::string, int64_t>& device_memory);

// OK and a complete Job (id unset, state unset) with its cases (the one expansion of the job:
// its CaseSpecs after the filter, in index order), or INVALID_ARGUMENT naming the field.
grpc::Status admit(const v1::SubmitJobRequest& req, const AdmissionLimits& limits, v1::Job* job,
                   v1::CaseSpecList* cases);

}  // namespace ligerbench::server
