// Distributed jobs through the server, on one node and across two (docs/DISTRIBUTED.md): real
// ligerbenchd processes on loopback, with a bearer token, each starting real rank processes
// (ligerbench-worker __rank) that meet at the receiving server's TCPStore and talk through Gloo.
#include <fstream>
#include <set>

#include "../common/backend_skip.h"
#include "server_fixture.h"

namespace ligerbench::testing {
namespace {

constexpr const char* kToken = "multi-node-test-token";

// A ligerbenchd on loopback (cpu only) whose clients and peers need `token`.
std::unique_ptr<Daemon> start_node(const TempDir& dir, const std::string& name, const std::string& token) {
  std::ofstream(dir.file(name + ".token")) << token;
  std::ofstream(dir.file(name + ".yaml")) << "listen: 127.0.0.1:0\nmetrics_listen: \"off\"\ndb: " << dir.file(name + ".db")
                                          << "\ndevices: [cpu]\nworker_path: " << LIGERBENCH_WORKER_PATH
                                          << "\nauth_token_file: " << dir.file(name + ".token") << "\n";
  auto d = std::make_unique<Daemon>(std::vector<std::string>{"--config", dir.file(name + ".yaml")});
  EXPECT_GT(d->port(), 0) << d->first_line();
  return d;
}

Client client_of(const Daemon& d) {
  client::ClientOptions o;
  o.server = "127.0.0.1:" + std::to_string(d.port());
  o.token = kToken;
  return Client(o);
}

std::string peer(const Daemon& d) { return "127.0.0.1:" + std::to_string(d.port()); }

const v1::CaseResult& case_with_prefix(const v1::GetJobResponse& r, const std::string& prefix) {
  for (const auto& c : r.result().cases())
    if (c.spec().key().rfind(prefix, 0) == 0) return c;
  throw std::runtime_error("no case starts with " + prefix);
}

TEST(MultiNode, TwoServersRunOneJobWithRanksOnBoth) {
  SKIP_WITHOUT_BACKEND("cpu");
  TempDir dir;
  auto a = start_node(dir, "a", kToken), b = start_node(dir, "b", kToken);
  Client c = client_of(*a);
  const v1::JobSpec spec = spec_of(R"(
name: two-nodes
measurement: {seed: 11}
cases:
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward], providers: [liger]}
  - {kernel: rms_norm, distributed: consistency, world_size: 4, shape: {T: 9, H: 67}, dtypes: [fp32],
     distributed_options: {nodes: [")" + peer(*b) + R"("], rank_timeout_s: 60}}
  - {distributed: collective, world_size: 4, dtypes: [fp32],
     distributed_options: {nodes: [")" + peer(*b) + R"("], collectives: [all_reduce], sizes_bytes: [4096], repetitions: 3}}
)");
  std::string id;
  ASSERT_TRUE(c.submit(spec, &id).ok());
  const v1::GetJobResponse r = c.wait(id, 240);
  ASSERT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  EXPECT_EQ(r.job().total_cases(), 3);
  ASSERT_EQ(r.result().cases_size(), 3);
  EXPECT_EQ(r.job().failed_cases(), 0);
  for (const std::string prefix : {"rms_norm|T=9,H=67|fp32|consistency", "all_reduce|bytes=4096|fp32|collective"}) {
    const v1::CaseResult& k = case_with_prefix(r, prefix);
    SCOPED_TRACE(prefix);
    EXPECT_TRUE(k.ok()) << k.error();
    EXPECT_NE(k.spec().key().find("world_size=4,nodes=2"), std::string::npos) << k.spec().key();
    ASSERT_EQ(k.distributed().ranks_size(), 4);
    std::set<int> ranks, pids;
    for (const auto& ri : k.distributed().ranks()) {
      ranks.insert(ri.rank());
      pids.insert(ri.pid());
      EXPECT_TRUE(ri.ok()) << ri.error();
      // Ranks 0 and 1 on the receiving server, 2 and 3 on the peer.
      EXPECT_EQ(ri.node(), ri.rank() < 2 ? "" : peer(*b)) << "rank " << ri.rank();
    }
    EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3}));
    EXPECT_EQ(pids.size(), 4u);
  }
  EXPECT_GT(case_with_prefix(r, "all_reduce").distributed().algbw_gb_per_s(), 0);
  EXPECT_DOUBLE_EQ(case_with_prefix(r, "all_reduce").distributed().bus_factor(), 1.5);  // 2(n-1)/n at n = 4
}

// A perturbed input on one of the peer's ranks: the check spans both nodes, and names that rank.
TEST(MultiNode, ConsistencyNamesADifferingRankOnThePeer) {
  SKIP_WITHOUT_BACKEND("cpu");
  TempDir dir;
  auto a = start_node(dir, "a", kToken), b = start_node(dir, "b", kToken);
  Client c = client_of(*a);
  const v1::JobSpec spec = spec_of(R"(
name: two-nodes-perturbed
cases:
  - {kernel: rms_norm, distributed: consistency, world_size: 4, shape: {T: 5, H: 16}, dtypes: [fp32],
     distributed_options: {nodes: [")" + peer(*b) + R"("], perturb_rank: 3, rank_timeout_s: 60}}
)");
  std::string id;
  ASSERT_TRUE(c.submit(spec, &id).ok());
  const v1::GetJobResponse r = c.wait(id, 180);
  ASSERT_EQ(r.result().cases_size(), 1);
  const v1::CaseResult& k = r.result().cases(0);
  EXPECT_FALSE(k.ok());
  EXPECT_NE(k.error().find("rank 3 differs from rank 0"), std::string::npos) << k.error();
  EXPECT_EQ(r.job().failed_cases(), 1);
}

// A peer that cannot be reached, and one that refuses the token, each fail their case within its
// bound and say why; the job goes on with the next case, which passes.
TEST(MultiNode, AnUnreachableOrRefusingPeerFailsOnlyItsCase) {
  SKIP_WITHOUT_BACKEND("cpu");
  TempDir dir;
  auto a = start_node(dir, "a", kToken), other = start_node(dir, "other", "another-token");
  Client c = client_of(*a);
  const v1::JobSpec spec = spec_of(R"(
name: bad-peers
cases:
  - {kernel: rms_norm, distributed: consistency, world_size: 2, shape: {T: 5, H: 16}, dtypes: [fp32],
     distributed_options: {nodes: ["127.0.0.1:1"], rank_timeout_s: 20}}
  - {kernel: softmax, distributed: consistency, world_size: 2, shape: {T: 5, H: 16}, dtypes: [fp32],
     distributed_options: {nodes: [")" + peer(*other) + R"("], rank_timeout_s: 20}}
  - {kernel: layer_norm, distributed: consistency, world_size: 2, shape: {T: 5, H: 16}, dtypes: [fp32]}
)");
  std::string id;
  ASSERT_TRUE(c.submit(spec, &id).ok());
  const auto t0 = std::chrono::steady_clock::now();
  const v1::GetJobResponse r = c.wait(id, 240);
  ASSERT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  ASSERT_EQ(r.result().cases_size(), 3);
  const v1::CaseResult& unreachable = case_with_prefix(r, "rms_norm");
  EXPECT_FALSE(unreachable.ok());
  EXPECT_NE(unreachable.error().find("node 127.0.0.1:1: unreachable"), std::string::npos) << unreachable.error();
  const v1::CaseResult& refused = case_with_prefix(r, "softmax");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("node " + peer(*other) + ": refused this server's token"), std::string::npos)
      << refused.error();
  const v1::CaseResult& local = case_with_prefix(r, "layer_norm");
  EXPECT_TRUE(local.ok()) << local.error();
  EXPECT_EQ(local.distributed().ranks_size(), 2);
  // Each failed case ended once its local ranks were stopped, not at its 20 s bound.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60);
}

TEST(MultiNode, AdmissionChecksNodesBeforeAnyWork) {
  TempDir dir;
  InProcess s(test_config(dir));
  Client c(s.port());
  // The suite parser refuses these already (with file and line); a gRPC client bypasses it.
  const v1::JobSpec base = spec_of(R"(
name: bad-nodes
cases:
  - {kernel: rms_norm, distributed: consistency, world_size: 3, shape: {T: 5, H: 16}, dtypes: [fp32]}
)");
  using Options = v1::DistributedOptions;
  const std::vector<std::pair<std::function<void(Options&)>, std::string>> bad = {
      {[](Options& o) { o.add_nodes("no-port"); }, "spec.cases[0].distributed_options.nodes[0]: 'no-port' is not host:port"},
      {[](Options& o) { o.add_nodes("127.0.0.1:99999"); }, "spec.cases[0].distributed_options.nodes[0]"},
      {[](Options& o) { o.set_rendezvous("127.0.0.1:x"); }, "spec.cases[0].distributed_options.rendezvous"},
      {[](Options& o) { o.add_nodes("127.0.0.1:5000"); }, "3 ranks do not split evenly over 2 nodes"},
      {[](Options& o) {
         for (int i = 0; i < 16; ++i) o.add_nodes("127.0.0.1:" + std::to_string(5000 + i));
       },
       "at most 15 peer nodes"},
  };
  for (const auto& [edit, expected] : bad) {
    v1::JobSpec spec = base;
    edit(*spec.mutable_cases(0)->mutable_distributed_options());
    std::string id;
    const grpc::Status st = c.submit(spec, &id);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << expected;
    EXPECT_NE(st.error_message().find(expected), std::string::npos) << expected << ": " << st.error_message();
  }
}

// RunRanks itself: the token is required, and every task is checked before a process starts.
TEST(MultiNode, RunRanksRefusesBadRequests) {
  TempDir dir;
  auto b = start_node(dir, "b", kToken);
  // A rank's task as the launcher writes it, from a real expansion.
  const auto expanded = expand_distributed(spec_of(R"(
name: peer-task
cases:
  - {kernel: rms_norm, distributed: consistency, world_size: 2, shape: {T: 5, H: 16}, dtypes: [fp32]}
)"),
                                           {"cpu"}, 0, "", "peer-task.yaml");
  ASSERT_EQ(expanded.size(), 1u);
  v1::RankTask t;
  t.set_kind(expanded[0].kind);
  *t.mutable_case_spec() = expanded[0].rank_case;
  t.mutable_case_spec()->set_device("cpu");
  t.set_world_size(2);
  t.set_rank(1);
  t.set_device("cpu");
  t.set_store_host("127.0.0.1");
  t.set_store_port(1);
  t.set_local_ranks(1);
  auto call = [&](const v1::RunRanksRequest& req, const std::string& token) {
    client::ClientOptions o;
    o.server = peer(*b);
    o.token = token;
    Client k(o);
    v1::RunRanksResponse resp;
    auto ctx = k.ctx(30);
    return k.stub().RunRanks(ctx.get(), req, &resp);
  };
  v1::RunRanksRequest ok_req;
  *ok_req.add_tasks() = t;
  EXPECT_EQ(call(ok_req, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const std::vector<std::pair<std::function<void(v1::RankTask&)>, std::string>> bad = {
      {[](v1::RankTask& x) { x.set_rank(2); }, "tasks[0].rank: 2 is not a distinct rank of 2"},
      {[](v1::RankTask& x) { x.set_store_host("bad host"); }, "is not host:port"},
      {[](v1::RankTask& x) { x.set_local_ranks(5); }, "tasks[0].local_ranks"},
      {[](v1::RankTask& x) { x.mutable_case_spec()->set_kernel("no_such_kernel"); }, "no_such_kernel"},
      {[](v1::RankTask& x) { x.set_kind("bogus"); }, "tasks[0].kind: 'bogus'"},
      {[](v1::RankTask& x) { x.mutable_options()->set_rank_timeout_s(1e9); }, "rank_timeout_s"},
      {[](v1::RankTask& x) {
         for (auto& a : *x.mutable_case_spec()->mutable_shape())
           if (a.name() == "T") a.set_value(int64_t{1} << 40);
       },
       "needs about"},
  };
  for (const auto& [edit, expected] : bad) {
    v1::RunRanksRequest req;
    v1::RankTask x = t;
    edit(x);
    *req.add_tasks() = x;
    const grpc::Status st = call(req, kToken);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << expected;
    EXPECT_NE(st.error_message().find(expected), std::string::npos) << st.error_message();
  }
  v1::RunRanksRequest too_many;
  for (int r = 0; r < 9; ++r) {
    v1::RankTask x = t;
    x.set_world_size(16);
    x.set_rank(r);
    x.set_local_ranks(9);
    *too_many.add_tasks() = x;
  }
  const grpc::Status st = call(too_many, kToken);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("at most 8 on cpu"), std::string::npos) << st.error_message();
}

// `ligerbench run` has no peers: a case naming nodes fails with what to do instead.
TEST(MultiNode, TheLocalLauncherRefusesNodesWithoutThePeerCall) {
  const v1::JobSpec spec = spec_of(R"(
name: local-nodes
cases:
  - {kernel: rms_norm, distributed: consistency, world_size: 2, shape: {T: 5, H: 16}, dtypes: [fp32],
     distributed_options: {nodes: ["127.0.0.1:5000"]}}
)");
  const auto cases = expand_distributed(spec, {"cpu"}, 0, "", "local.yaml");
  ASSERT_EQ(cases.size(), 1u);
  const v1::CaseResult r = run_distributed_case(cases[0]);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("distributed_options.nodes needs the server path"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace ligerbench::testing
