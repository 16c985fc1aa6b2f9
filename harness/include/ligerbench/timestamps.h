#pragma once
// Wall-clock times as the schema stores them: RFC 3339 in UTC. One implementation for the
// harness (result files), the server (jobs and events) and the CLI.
#include <string>

namespace ligerbench {

// "2026-12-04T21:34:16Z": a result file's started_at and finished_at.
std::string now_rfc3339();
// "2026-12-04T21:34:16.123Z": a job's and its events' times, which order within a second.
std::string now_rfc3339_ms();

}  // namespace ligerbench
