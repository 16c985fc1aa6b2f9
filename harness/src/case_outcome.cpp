#include "ligerbench/case_outcome.h"

#include <cstring>

namespace ligerbench {

const char* case_outcome(const v1::CaseResult& r) {
  if (!r.ok()) return "error";
  return r.accuracy().checked() && !r.accuracy().passed() ? "failed" : "passed";
}

bool case_failed(const v1::CaseResult& r) { return std::strcmp(case_outcome(r), "passed") != 0; }

}  // namespace ligerbench
