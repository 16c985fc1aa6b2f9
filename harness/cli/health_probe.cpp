// ligerbench-health-probe HOST:PORT [SERVICE]: asks a server's standard gRPC health service
// (grpc.health.v1.Health/Check) whether it is SERVING; the images' HEALTHCHECK runs it.
// Exit 0 SERVING, 1 anything else (unreachable, NOT_SERVING, unknown service), 2 bad usage.
// The health messages are encoded by hand: gRPC ships no C++ stubs for them, and the request is
// one optional string field, the answer one enum field.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <future>
#include <iostream>
#include <string>

namespace {

std::string encode_request(const std::string& service) {
  if (service.empty()) return "";
  if (service.size() > 127) throw std::invalid_argument("service name longer than 127 bytes");
  return std::string(1, '\x0a') + static_cast<char>(service.size()) + service;  // field 1, length-delimited
}

std::string to_string(const grpc::ByteBuffer& b) {
  grpc::Slice slice;
  if (!b.DumpToSingleSlice(&slice).ok()) return "";
  return std::string(reinterpret_cast<const char*>(slice.begin()), slice.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: ligerbench-health-probe HOST:PORT [SERVICE]\n";
    return 2;
  }
  const std::string target = argv[1], service = argc == 3 ? argv[2] : "";
  std::string request;
  try {
    request = encode_request(service);
  } catch (const std::exception& e) {
    std::cerr << "ligerbench-health-probe: " << e.what() << "\n";
    return 2;
  }
  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1), resp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                 [&](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    std::cerr << target << ": health check failed: " << status.error_message() << "\n";
    return 1;
  }
  const std::string body = to_string(resp);  // field 1 varint: 1 SERVING, 2 NOT_SERVING
  const int code = body.size() == 2 && body[0] == '\x08' ? body[1] : 0;
  std::cout << target << (service.empty() ? "" : " " + service) << ": "
            << (code == 1 ? "SERVING" : code == 2 ? "NOT_SERVING" : "UNKNOWN") << "\n";
  return code == 1 ? 0 : 1;
}
