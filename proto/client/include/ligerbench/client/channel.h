#pragma once
// Client side of BenchService: a channel with TLS (and optional client certificate) and the
// bearer token, used by the CLI, the load benchmark and the tests. It sits beside the generated
// stubs (ligerbench_grpc) and needs nothing else, so the CLI reaches no code of the server's.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>

#include "ligerbench/v1/service.grpc.pb.h"

namespace ligerbench::client {

struct ClientOptions {
  std::string server = "127.0.0.1:50051";
  bool tls = false;
  std::string ca_file;      // PEM roots to verify the server (default: the system's)
  std::string cert_file;    // PEM client certificate (mutual TLS)
  std::string key_file;
  std::string token;        // bearer token
  std::string server_name;  // TLS name to expect when it differs from the address
};

std::shared_ptr<grpc::Channel> make_channel(const ClientOptions& o);
// A context with the token and, when deadline_s > 0, a deadline.
std::unique_ptr<grpc::ClientContext> make_context(const ClientOptions& o, double deadline_s = 0);

}  // namespace ligerbench::client
