// The standard health service and server reflection answer, so grpcurl works without .proto
// files. Called through the generic stub with hand-encoded messages (their stubs are not shipped).
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <future>

#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

grpc::ByteBuffer bytes(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

std::string str(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  (void)b.Dump(&slices);
  std::string s;
  for (const auto& sl : slices) s.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  return s;
}

// A proto string field `number` holding `value` (short values only).
std::string string_field(int number, const std::string& value) {
  return std::string(1, static_cast<char>(number << 3 | 2)) + static_cast<char>(value.size()) + value;
}

TEST(HealthAndReflection, HealthCheckSaysServing) {
  TempDir dir;
  InProcess server(test_config(dir));
  grpc::GenericStub stub(client::make_channel({"127.0.0.1:" + std::to_string(server.port())}));
  for (const std::string service : {"", "ligerbench.v1.BenchService"}) {
    grpc::ClientContext ctx;
    grpc::ByteBuffer req = bytes(service.empty() ? "" : string_field(1, service)), resp;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                   [&](grpc::Status s) { done.set_value(s); });
    const auto s = done.get_future().get();
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(str(resp), std::string("\x08\x01")) << "status SERVING for '" << service << "'";
  }
}

TEST(HealthAndReflection, ReflectionListsBenchService) {
  TempDir dir;
  InProcess server(test_config(dir));
  grpc::GenericStub stub(client::make_channel({"127.0.0.1:" + std::to_string(server.port())}));
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&] { return cq.Next(&tag, &ok) && ok; };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step());
  call->Write(bytes(string_field(7, "")), reinterpret_cast<void*>(2));  // list_services: ""
  ASSERT_TRUE(step());
  call->WritesDone(reinterpret_cast<void*>(3));
  ASSERT_TRUE(step());
  grpc::ByteBuffer resp;
  call->Read(&resp, reinterpret_cast<void*>(4));
  ASSERT_TRUE(step());
  const std::string listed = str(resp);
  EXPECT_NE(listed.find("ligerbench.v1.BenchService"), std::string::npos);
  EXPECT_NE(listed.find("grpc.health.v1.Health"), std::string::npos);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
