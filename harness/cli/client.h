#pragma once
// The CLI's client commands (submit, jobs, status, cancel, results): they talk to ligerbenchd
// over gRPC, so they live apart from the harness, in the CLI target that links the stubs.
#include <string>

namespace ligerbench::cli {

bool is_client_command(const std::string& cmd);
// argv[1] is the command; returns the exit status.
int run_client_command(const std::string& cmd, int argc, char** argv);

}  // namespace ligerbench::cli
