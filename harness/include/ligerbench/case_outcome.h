#pragma once
// How a case ended, read one way everywhere (exit status, job counts, metrics, reports).
#include "ligerbench/proto.h"

namespace ligerbench {

// "error" (it did not run to the end), "failed" (its accuracy check failed) or "passed" (it ran,
// and its accuracy passed or was not checked): the server's cases_total{outcome} label.
const char* case_outcome(const v1::CaseResult& r);

// A case counts as failed when it errored or its accuracy check failed.
bool case_failed(const v1::CaseResult& r);

}  // namespace ligerbench
