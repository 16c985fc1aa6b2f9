#pragma once
// A job's state in words, for the server's metrics and messages and the CLI's output, and
// whether it is final (no event comes after it).
#include <string>

#include "ligerbench/v1/service.pb.h"

namespace ligerbench {

// "queued", "running", "finished", ...: the enum name without its prefix, lower case.
std::string job_state_name(v1::JobState s);

// Every state but queued and running: the job has ended.
bool is_final(v1::JobState s);

}  // namespace ligerbench
