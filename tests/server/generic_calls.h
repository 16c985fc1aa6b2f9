#pragma once
// Calls to the standard health and reflection services through the generic stub, with messages
// encoded by hand (their C++ stubs are not shipped with gRPC).
#include <grpcpp/generic/generic_stub.h>

#include <future>
#include <string>
#include <vector>

#include "ligerbench/client/channel.h"

namespace ligerbench::testing {

inline grpc::ByteBuffer bytes(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

inline std::string str(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  (void)b.Dump(&slices);
  std::string s;
  for (const auto& sl : slices) s.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  return s;
}

// A proto string field `number` holding `value` (short values only).
inline std::string string_field(int number, const std::string& value) {
  return std::string(1, static_cast<char>(number << 3 | 2)) + static_cast<char>(value.size()) + value;
}

struct RawReply {
  grpc::Status status;
  std::string body;  // the (first) response message's bytes
};

// A unary call of `method` with raw request bytes, bounded by deadline_s.
inline RawReply raw_unary(grpc::GenericStub& stub, const client::ClientOptions& o, const std::string& method,
                          const std::string& request, double deadline_s = 10) {
  auto ctx = client::make_context(o, deadline_s);
  grpc::ByteBuffer req = bytes(request), resp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), &req, &resp, [&](grpc::Status s) { done.set_value(s); });
  RawReply r;
  r.status = done.get_future().get();
  r.body = str(resp);
  return r;
}

inline RawReply raw_unary(const client::ClientOptions& o, const std::string& method, const std::string& request,
                          double deadline_s = 10) {
  grpc::GenericStub stub(client::make_channel(o));
  return raw_unary(stub, o, method, request, deadline_s);
}

// grpc.health.v1.Health/Check of `service` ("" for the server); body "\x08\x01" means SERVING.
inline RawReply health_check(const client::ClientOptions& o, const std::string& service = "", double deadline_s = 10) {
  return raw_unary(o, "/grpc.health.v1.Health/Check", service.empty() ? "" : string_field(1, service), deadline_s);
}

// One list_services request on the reflection stream: its answer and the call's status.
inline RawReply reflection_list_services(const client::ClientOptions& o) {
  grpc::GenericStub stub(client::make_channel(o));
  grpc::CompletionQueue cq;
  auto ctx = client::make_context(o, 10);
  auto call = stub.PrepareCall(ctx.get(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&] { return cq.Next(&tag, &ok) && ok; };
  RawReply r;
  call->StartCall(reinterpret_cast<void*>(1));
  if (step()) {
    call->Write(bytes(string_field(7, "")), reinterpret_cast<void*>(2));  // list_services: ""
    if (step()) {
      call->WritesDone(reinterpret_cast<void*>(3));
      if (step()) {
        grpc::ByteBuffer resp;
        call->Read(&resp, reinterpret_cast<void*>(4));
        if (step()) r.body = str(resp);
      }
    }
  }
  call->Finish(&r.status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return r;
}

}  // namespace ligerbench::testing
