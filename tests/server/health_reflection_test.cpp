// The standard health service and server reflection answer, so grpcurl works without .proto
// files; with a bearer token set, reflection needs it too (unless configured open) and health
// stays open for probes.
#include <gtest/gtest.h>

#include <fstream>

#include "generic_calls.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

client::ClientOptions local(int port, const std::string& token = "") {
  client::ClientOptions o{"127.0.0.1:" + std::to_string(port)};
  o.token = token;
  return o;
}

TEST(HealthAndReflection, HealthCheckSaysServing) {
  TempDir dir;
  InProcess server(test_config(dir));
  for (const std::string service : {"", "ligerbench.v1.BenchService"}) {
    const auto r = health_check(local(server.port()), service);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.body, std::string("\x08\x01")) << "status SERVING for '" << service << "'";
  }
}

TEST(HealthAndReflection, ReflectionListsBenchService) {
  TempDir dir;
  InProcess server(test_config(dir));
  const auto r = reflection_list_services(local(server.port()));
  EXPECT_NE(r.body.find("ligerbench.v1.BenchService"), std::string::npos);
  EXPECT_NE(r.body.find("grpc.health.v1.Health"), std::string::npos);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
}

TEST(HealthAndReflection, WithATokenReflectionNeedsItAndHealthStaysOpen) {
  TempDir dir;
  std::ofstream(dir.file("token")) << "s3cret\n";
  auto config = test_config(dir);
  config.set_auth_token_file(dir.file("token"));
  InProcess server(config);

  const auto anonymous = reflection_list_services(local(server.port()));
  EXPECT_EQ(anonymous.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << anonymous.status.error_message();
  EXPECT_NE(anonymous.status.error_message().find("Bearer"), std::string::npos);
  EXPECT_EQ(anonymous.body.find("ligerbench.v1"), std::string::npos) << "no schema without the token";
  EXPECT_NE(anonymous.body.find("bearer token is required"), std::string::npos) << "the answer says why";

  const auto wrong = reflection_list_services(local(server.port(), "s3creT"));
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.body.find("ligerbench.v1"), std::string::npos);

  const auto with_token = reflection_list_services(local(server.port(), "s3cret"));
  EXPECT_TRUE(with_token.status.ok()) << with_token.status.error_message();
  EXPECT_NE(with_token.body.find("ligerbench.v1.BenchService"), std::string::npos);

  const auto health = health_check(local(server.port()), "ligerbench.v1.BenchService");
  EXPECT_TRUE(health.status.ok()) << "health needs no token: " << health.status.error_message();
  EXPECT_EQ(health.body, std::string("\x08\x01"));
}

TEST(HealthAndReflection, ReflectionOpenByConfigServesWithoutTheToken) {
  TempDir dir;
  std::ofstream(dir.file("token")) << "s3cret";
  auto config = test_config(dir);
  config.set_auth_token_file(dir.file("token"));
  config.set_reflection_open(true);
  InProcess server(config);
  const auto r = reflection_list_services(local(server.port()));
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_NE(r.body.find("ligerbench.v1.BenchService"), std::string::npos);
  // The service itself still needs the token.
  Client anonymous(server.port());
  v1::ListKernelsResponse kernels;
  auto ctx = anonymous.ctx(10);
  EXPECT_EQ(anonymous.stub().ListKernels(ctx.get(), {}, &kernels).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
