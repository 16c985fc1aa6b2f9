#pragma once
// The CLI's client commands (submit, jobs, status, cancel, results): they talk to ligerbenchd
// over gRPC, so they live apart from the harness, in the CLI target that links the stubs.
#include <grpcpp/grpcpp.h>

#include <set>
#include <stdexcept>
#include <string>

#include "args.h"
#include "ligerbench/client/channel.h"

namespace ligerbench::cli {

// The server refused or could not be reached: exit 3 with its message.
struct RpcError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws InputError for INVALID_ARGUMENT, RpcError for any other failure; `what` names the request.
void check(const grpc::Status& s, const std::string& what);
// --server (or $LIGERBENCH_SERVER), --tls, --ca, --cert, --key, --server-name, --token-file.
client::ClientOptions connection(const Args& a);
// `extra` plus the connection options above.
std::set<std::string> with(std::set<std::string> extra);

// GetJob of `id` (with its results when `results`), through check().
v1::GetJobResponse fetch(v1::BenchService::Stub& stub, const client::ClientOptions& o, const std::string& id,
                         bool results);

bool is_client_command(const std::string& cmd);
// argv[1] is the command; returns the exit status.
int run_client_command(const std::string& cmd, int argc, char** argv);

}  // namespace ligerbench::cli
