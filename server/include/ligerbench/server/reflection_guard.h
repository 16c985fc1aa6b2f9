#pragma once
// Server reflection behind the bearer token. gRPC's reflection service (its plugin) has no hook
// for authorization, so an interceptor stands in front of it: on a reflection call without the
// token, each request is emptied before the service reads it (so it looks nothing up), each
// answer is replaced by an error_response UNAUTHENTICATED, and so is the call's status.
#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/string_ref.h>

#include <map>
#include <memory>
#include <string>

namespace ligerbench::server {

// True when the metadata's "authorization" is "Bearer <token>" (compared in constant time).
bool bearer_matches(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata, const std::string& token);

// What a call without the right token gets.
extern const char* const kTokenRequired;

// An interceptor factory for ServerBuilder: reflection calls need `token`; other calls pass.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> reflection_guard(std::string token);

}  // namespace ligerbench::server
