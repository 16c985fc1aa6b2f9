#include "ligerbench/server/reflection_guard.h"

#include <google/protobuf/message_lite.h>
#include <grpcpp/support/byte_buffer.h>
#include <openssl/crypto.h>

#include <cstring>

namespace ligerbench::server {

const char* const kTokenRequired = "a bearer token is required (metadata 'authorization: Bearer TOKEN')";

bool bearer_matches(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata, const std::string& token) {
  auto it = metadata.find("authorization");
  const std::string want = "Bearer " + token;
  return it != metadata.end() && it->second.size() == want.size() &&
         CRYPTO_memcmp(it->second.data(), want.data(), want.size()) == 0;
}

namespace {

// ServerReflectionResponse { error_response (7): ErrorResponse { error_code (1), error_message (2) } },
// written out by hand: the reflection messages' C++ classes are not installed with gRPC.
grpc::ByteBuffer unauthenticated_response() {
  const std::string message = kTokenRequired;
  std::string error = std::string("\x08") + static_cast<char>(grpc::StatusCode::UNAUTHENTICATED) + "\x12" +
                      static_cast<char>(message.size()) + message;
  const std::string response = std::string("\x3a") + static_cast<char>(error.size()) + error;
  grpc::Slice slice(response);
  return grpc::ByteBuffer(&slice, 1);
}

class ReflectionGuard : public grpc::experimental::Interceptor {
 public:
  explicit ReflectionGuard(const std::string& token) : token_(token) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (m->QueryInterceptionHookPoint(Hook::POST_RECV_INITIAL_METADATA))
      denied_ = !bearer_matches(*m->GetRecvInitialMetadata(), token_);
    if (denied_) {
      if (m->QueryInterceptionHookPoint(Hook::POST_RECV_MESSAGE))
        if (void* request = m->GetRecvMessage()) static_cast<google::protobuf::MessageLite*>(request)->Clear();
      if (m->QueryInterceptionHookPoint(Hook::PRE_SEND_MESSAGE))
        if (grpc::ByteBuffer* answer = m->GetSerializedSendMessage()) *answer = unauthenticated_response();
      if (m->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS))
        m->ModifySendStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kTokenRequired));
    }
    m->Proceed();
  }

 private:
  const std::string& token_;
  bool denied_ = true;  // until the metadata shows the token
};

class ReflectionGuardFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ReflectionGuardFactory(std::string token) : token_(std::move(token)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    if (std::strncmp(info->method(), "/grpc.reflection.", 17) != 0) return nullptr;
    return new ReflectionGuard(token_);
  }

 private:
  const std::string token_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> reflection_guard(std::string token) {
  return std::make_unique<ReflectionGuardFactory>(std::move(token));
}

}  // namespace ligerbench::server
