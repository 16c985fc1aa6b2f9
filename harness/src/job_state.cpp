#include "ligerbench/job_state.h"

#include <cctype>

namespace ligerbench {

std::string job_state_name(v1::JobState s) {
  std::string n = v1::JobState_Name(s);
  if (n.rfind("JOB_STATE_", 0) == 0) n = n.substr(10);
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

bool is_final(v1::JobState s) { return s != v1::JOB_STATE_QUEUED && s != v1::JOB_STATE_RUNNING; }

}  // namespace ligerbench
