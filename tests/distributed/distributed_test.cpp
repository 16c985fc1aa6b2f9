// Distributed cases end to end (docs/DISTRIBUTED.md): real `ligerbench run` processes, each
// starting real rank processes that meet through c10d's TCPStore on loopback and talk through
// ProcessGroupGloo. One run per world size carries every case the tests look at, so the
// processes start once per world size.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

#include "../common/backend_skip.h"
#include "../common/files.h"
#include "ligerbench/report.h"

namespace ligerbench {
namespace {

const std::string kCli = LIGERBENCH_CLI_PATH;

std::string temp_dir() {
  static const std::string d = testing_files::make_temp_dir("ligerbench_distributed");
  return d;
}

using testing_files::slurp;

struct CliRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  v1::JobResult result;
  double seconds = 0;
  int leftover_rank_folders = -1;  // ligerbench-ranks-* folders left in the run's TMPDIR

  // Expects every one of `wants` somewhere in the output.
  void expect_output_has(std::initializer_list<std::string> wants) const {
    for (const std::string& want : wants)
      EXPECT_TRUE(output.find(want) != std::string::npos) << "missing: " << want << "\n" << output;
  }

  // The one case whose key starts with `prefix`.
  const v1::CaseResult& find(const std::string& prefix) const {
    const v1::CaseResult* hit = nullptr;
    for (const auto& c : result.cases())
      if (c.spec().key().rfind(prefix, 0) == 0) {
        if (hit) throw std::runtime_error("two cases start with " + prefix);
        hit = &c;
      }
    if (!hit) throw std::runtime_error("no case starts with " + prefix + "; output:\n" + output);
    return *hit;
  }
};

CliRun run_suite(const std::string& name, const std::string& yaml, const std::string& extra_args) {
  const std::string d = temp_dir();
  const std::string suite = d + "/" + name + ".yaml", out = d + "/" + name + ".json", log = d + "/" + name + ".log";
  std::ofstream(suite) << yaml;
  const std::string tmp = d + "/" + name + ".tmp";
  std::filesystem::create_directories(tmp);
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = std::system(("TMPDIR=" + tmp + " " + kCli + " run " + suite + " --device cpu --quiet --out " + out + " " + extra_args + " >" +
                              log + " 2>&1").c_str());
  CliRun r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.output = slurp(log);
  if (std::ifstream(out).good()) r.result = read_result_file(out);
  r.leftover_rank_folders = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp))
    r.leftover_rank_folders += e.path().filename().string().rfind("ligerbench-ranks-", 0) == 0;
  return r;
}

// Each test runs its own suite (ctest runs each test in a process of its own), at the world
// size of its parameter.
class WorldSize : public ::testing::TestWithParam<int> {
 protected:
  CliRun run(const std::string& name, const std::string& cases) const {
    const std::string n = std::to_string(GetParam());
    return run_suite(name + n, "name: " + name + "\ncases:\n" + cases, "--world-size " + n);
  }
};

TEST_P(WorldSize, ConsistencyPassesOnEveryRank) {
  SKIP_WITHOUT_BACKEND("cpu");
  const int n = GetParam();
  const CliRun x = run("consistency", R"(
  - {kernel: rms_norm, distributed: consistency, shape: {T: 9, H: 67}, dtypes: [fp32],
     distributed_options: {rank_timeout_s: 10}}
  - {kernel: cross_entropy, distributed: consistency, shape: {BT: 13, V: 257}, dtypes: [fp32],
     distributed_options: {rank_timeout_s: 10}}
)");
  EXPECT_EQ(x.exit_code, 0) << x.output;
  ASSERT_EQ(x.result.cases_size(), 2) << x.output;
  for (const std::string prefix : {"rms_norm|T=9,H=67|fp32|consistency", "cross_entropy|BT=13,V=257|fp32|consistency"}) {
    const auto& c = x.find(prefix);
    EXPECT_TRUE(c.ok()) << prefix << ": " << c.error();
    EXPECT_TRUE(c.accuracy().checked());
    EXPECT_TRUE(c.accuracy().passed()) << prefix;
    EXPECT_GE(c.accuracy().tensors_size(), 2) << "outputs and gradients against float64";
    EXPECT_EQ(c.distributed().world_size(), n);
    EXPECT_EQ(c.distributed().backend(), "gloo");
    ASSERT_EQ(c.distributed().ranks_size(), n);
    std::set<int> pids;
    for (int k = 0; k < n; ++k) {
      EXPECT_EQ(c.distributed().ranks(k).rank(), k);
      EXPECT_TRUE(c.distributed().ranks(k).ok());
      EXPECT_EQ(c.distributed().ranks(k).device(), "cpu");
      pids.insert(c.distributed().ranks(k).pid());
    }
    EXPECT_EQ(static_cast<int>(pids.size()), n) << "one process per rank";
    EXPECT_TRUE(c.spec().key().find("|cpu|world_size=" + std::to_string(n)) != std::string::npos) << c.spec().key();
  }
}

TEST_P(WorldSize, PerturbedRankIsNamedWithTheTensor) {
  SKIP_WITHOUT_BACKEND("cpu");
  const int last = GetParam() - 1;  // the perturbed rank
  const CliRun x = run("perturbed", R"(
  - {kernel: rms_norm, distributed: consistency, shape: {T: 5, H: 16}, dtypes: [fp32],
     distributed_options: {rank_timeout_s: 10, perturb_rank: )" + std::to_string(last) + "}}\n");
  EXPECT_EQ(x.exit_code, 1) << x.output;
  ASSERT_EQ(x.result.cases_size(), 1) << x.output;
  const auto& c = x.result.cases(0);
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(c.error().rfind("rank " + std::to_string(last) + " differs from rank 0 in out: ", 0) == 0) << c.error();
  EXPECT_TRUE(c.error().find("grad_input") != std::string::npos) << c.error();
  std::vector<std::string> differing(c.distributed().differing_tensors().begin(), c.distributed().differing_tensors().end());
  EXPECT_EQ(differing, (std::vector<std::string>{"out", "grad_input", "grad_weight"}));
  // The perturbed rank computed consistently with its own inputs: only the cross-rank check fails.
  EXPECT_TRUE(c.accuracy().passed());
}

TEST_P(WorldSize, KilledRankFailsItsCaseAndTheNextCasePasses) {
  SKIP_WITHOUT_BACKEND("cpu");
  const CliRun x = run("killed", R"(
  - {kernel: layer_norm, distributed: consistency, shape: {T: 5, H: 16}, dtypes: [fp32],
     distributed_options: {rank_timeout_s: 10, kill_rank: 1}}
  - {kernel: layer_norm, distributed: consistency, shape: {T: 7, H: 16}, dtypes: [fp32],
     distributed_options: {rank_timeout_s: 10}}
)");
  EXPECT_EQ(x.exit_code, 1) << x.output;
  EXPECT_EQ(x.result.failed_cases(), 1) << x.output;
  EXPECT_LT(x.seconds, 30) << "a killed rank fails its case at once, not at a timeout";
  const auto& killed = x.find("layer_norm|T=5,H=16|fp32|consistency");
  EXPECT_FALSE(killed.ok());
  EXPECT_TRUE(killed.error().rfind("rank 1 of " + std::to_string(GetParam()) + " was killed by signal 9", 0) == 0)
      << killed.error();
  EXPECT_FALSE(killed.distributed().ranks(1).ok());
  const auto& next = x.find("layer_norm|T=7,H=16|fp32|consistency");
  EXPECT_TRUE(next.ok()) << next.error();
  EXPECT_TRUE(next.accuracy().passed());
  EXPECT_NE(next.distributed().ranks(1).pid(), killed.distributed().ranks(0).pid()) << "fresh processes";
  EXPECT_EQ(x.leftover_rank_folders, 0) << "each case removes its ranks' folder, a failed one too";
}

TEST_P(WorldSize, CollectivesReportNcclTestsBusBandwidth) {
  SKIP_WITHOUT_BACKEND("cpu");
  const int n = GetParam();
  const std::map<std::string, double> factor = {{"all_reduce", 2.0 * (n - 1) / n},
                                                {"all_gather", static_cast<double>(n - 1) / n},
                                                {"reduce_scatter", static_cast<double>(n - 1) / n}};
  const CliRun x = run("collectives", R"(
  - {distributed: collective, distributed_options: {sizes_bytes: [262144], repetitions: 3, warmup: 1, rank_timeout_s: 10}}
)");
  EXPECT_EQ(x.exit_code, 0) << x.output;
  ASSERT_EQ(x.result.cases_size(), 3) << x.output;
  for (const auto& [op, f] : factor)
    for (const int64_t bytes : {262144}) {
      const auto& c = x.find(op + "|bytes=" + std::to_string(bytes) + "|fp32|collective|gloo|");
      ASSERT_TRUE(c.ok()) << c.spec().key() << ": " << c.error();
      const auto& d = c.distributed();
      EXPECT_EQ(d.collective(), op);
      EXPECT_GT(d.bytes(), 0);
      EXPECT_LE(d.bytes(), bytes);  // rounded down to whole elements per rank
      EXPECT_GT(c.timing().median_ms(), 0);
      EXPECT_EQ(c.timing().n(), 3);
      // algbw from the numbers themselves, busbw from it with the factor this test computes.
      const double algbw = static_cast<double>(d.bytes()) / (c.timing().median_ms() * 1e-3) / 1e9;
      EXPECT_GT(d.algbw_gb_per_s(), 0);
      EXPECT_NEAR(d.algbw_gb_per_s(), algbw, 1e-9 * algbw);
      EXPECT_NEAR(d.busbw_gb_per_s() / d.algbw_gb_per_s(), f, 1e-12) << op;
      EXPECT_DOUBLE_EQ(d.bus_factor(), f);
      EXPECT_EQ(c.distributed().ranks_size(), n);
    }
}

INSTANTIATE_TEST_SUITE_P(Gloo, WorldSize, ::testing::Values(2, 4), [](const auto& info) {
  return "ranks" + std::to_string(info.param);
});

TEST(DistributedFailure, HungRankFailsTheCaseWithinItsTimeout) {
  SKIP_WITHOUT_BACKEND("cpu");
  const CliRun x = run_suite("hang", R"(cases:
  - {kernel: rms_norm, distributed: consistency, world_size: 2, shape: {T: 5, H: 16}, dtypes: [fp32],
     distributed_options: {rank_timeout_s: 1, hang_rank: 1}}
)",
                          "");
  EXPECT_EQ(x.exit_code, 1) << x.output;
  ASSERT_EQ(x.result.cases_size(), 1) << x.output;
  const auto& c = x.result.cases(0);
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(c.error().rfind("rank 1 of 2 was stopped", 0) == 0) << c.error();
  EXPECT_LT(x.seconds, 20) << "bounded by rank_timeout_s, the grace and process start";
}

TEST(DistributedInput, WorldSizeBeyondTheCpuLimitIsRefused) {
  const CliRun x = run_suite("too_many", "cases:\n  - {distributed: collective, distributed_options: {sizes_bytes: [64]}}\n",
                          "--world-size 9");
  EXPECT_EQ(x.exit_code, 2);
  EXPECT_TRUE(x.output.find("--world-size: 9 ranks on cpu, but at most 8 ranks run on cpu") != std::string::npos) << x.output;
}

TEST(DistributedInput, BadDistributedKeysNameFileAndKey) {
  const CliRun x = run_suite("bad_keys", R"(cases:
  - {kernel: rms_norm, distributed: consistency, world_size: 100}
  - {distributed: collective, world_size: 2, distributed_options: {sizes_bytes: [2], kill_rank: 2, collectives: [broadcast]}}
  - {kernel: rms_norm, distributed: sideways}
  - {kernel: rms_norm, world_size: 2}
)",
                          "");
  EXPECT_EQ(x.exit_code, 2);
  x.expect_output_has({"bad_keys.yaml:2: key 'cases[0].world_size': must be in [0, 64], got 100",
                       "key 'cases[1].distributed_options.kill_rank': rank 2 is not a rank of the case (world_size 2)",
                       "key 'cases[1].distributed_options.collectives[0]': unknown collective 'broadcast'",
                       "key 'cases[1].distributed_options.sizes_bytes[0]': must be in [4, 4294967296], got 2",
                       "key 'cases[2].distributed': unknown distributed kind 'sideways'",
                       "key 'cases[3].world_size': world_size and distributed_options need distributed: consistency, collective or training_step"});
}

// The data-parallel training step (docs/DISTRIBUTED.md): 2 Gloo ranks, a tiny model, small
// buckets so that several all-reduces overlap backward.
const char* const kTraining = R"(
  - {distributed: training_step, world_size: 2, dtypes: [fp32],
     distributed_options: {rank_timeout_s: 30, steps: 4, warmup_steps: 1, bucket_mb: 0.05,
                           model: {hidden: 32, layers: 2, heads: 4, kv_heads: 2, intermediate: 64, vocab: 256, seq: 16, batch: 2})";

TEST(TrainingStep, LossCurvesAgreeAndParametersStayEqualAcrossRanks) {
  SKIP_WITHOUT_BACKEND("cpu");
  const CliRun x = run_suite("training", std::string("cases:") + kTraining + "}}\n", "");
  EXPECT_EQ(x.exit_code, 0) << x.output;
  const auto& c = x.find("training_step|hidden=32,layers=2,heads=4,kv_heads=2,intermediate=64,vocab=256,seq=16,batch=2|fp32|");
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c.distributed().ranks_size(), 2);
  std::vector<std::vector<double>> curves;
  for (const auto& rank : c.distributed().ranks()) {
    const auto& t = rank.training();
    // The model's FLOPs as docs/DISTRIBUTED.md states them, from the sizes.
    const double tokens = 2 * 16, h = 32, v = 256, layers = 2;
    EXPECT_EQ(t.tokens_per_step(), 32);
    EXPECT_DOUBLE_EQ(t.flops_per_step(), 6 * (t.parameters() - v * h) * tokens + 12 * layers * 16 * h * tokens);
    EXPECT_GT(t.buckets(), 1) << "bucket_mb 0.05 splits the gradients";
    EXPECT_TRUE(t.parameters_equal_across_ranks()) << "rank " << rank.rank();
    ASSERT_EQ(t.liger().losses_size(), 4);
    ASSERT_EQ(t.baseline().losses_size(), 4);
    for (int i = 0; i < 4; ++i) {
      const double a = t.liger().losses(i), b = t.baseline().losses(i);
      EXPECT_TRUE(std::isfinite(a) && a > 0) << a;
      EXPECT_LE(std::abs(a - b) / std::abs(b), t.loss_tolerance()) << "step " << i;
    }
    EXPECT_NEAR(t.liger().losses(0), std::log(256.0), 0.5) << "an untrained model's loss is about log(vocab)";
    for (const auto* b : {&t.liger(), &t.baseline()}) {
      EXPECT_EQ(b->step_ms_size(), 3) << "the warmup step is not timed";
      EXPECT_GT(b->tokens_per_s(), 0);
      EXPECT_NEAR(b->tokens_per_s(), 32 / (b->step_ms_median() * 1e-3), 1e-6 * b->tokens_per_s());
    }
    curves.emplace_back(t.liger().losses().begin(), t.liger().losses().end());
  }
  EXPECT_NE(curves[0], curves[1]) << "each rank trains on its own batches";
  EXPECT_GT(c.timing().median_ms(), 0);
  EXPECT_GT(c.speedup(), 0);
}

TEST(TrainingStep, RankSteppingWithItsOwnGradientsIsNamed) {
  SKIP_WITHOUT_BACKEND("cpu");
  const CliRun x = run_suite("unreduced", std::string("cases:") + kTraining + ", skip_reduce_rank: 1}}\n", "");
  EXPECT_EQ(x.exit_code, 1) << x.output;
  ASSERT_EQ(x.result.cases_size(), 1) << x.output;
  const auto& c = x.result.cases(0);
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(c.error().rfind("the liger build's parameters differ across ranks after 4 steps: rank 1 differs from rank 0", 0) == 0)
      << c.error();
  EXPECT_TRUE(c.error().find("the baseline build's parameters differ") != std::string::npos) << c.error();
  EXPECT_FALSE(c.distributed().training().parameters_equal_across_ranks());
  EXPECT_EQ(c.error().find("step"), c.error().find("steps")) << "the loss curves still agree: " << c.error();
}

TEST(TrainingStep, DivergingLossCurvesFailNamingRankStepAndLosses) {
  SKIP_WITHOUT_BACKEND("cpu");
  // perturb_rank: rank 1's baseline build steps with 10 x lr, so its loss curve leaves the liger
  // build's from step 1 on (step 0 is before any step).
  const CliRun x = run_suite("diverging", std::string("cases:") + kTraining + ", perturb_rank: 1}}\n", "");
  EXPECT_EQ(x.exit_code, 1) << x.output;
  ASSERT_EQ(x.result.cases_size(), 1) << x.output;
  const auto& c = x.result.cases(0);
  EXPECT_FALSE(c.ok());
  const auto& t = c.distributed().ranks(1).training();
  ASSERT_EQ(t.baseline().losses_size(), 4);
  std::ostringstream want;
  want.precision(8);
  want << "rank 1, step 1: liger loss " << t.liger().losses(1) << " and baseline loss " << t.baseline().losses(1)
       << " differ by ";
  EXPECT_TRUE(c.error().find(want.str()) != std::string::npos) << "missing: " << want.str() << "\n" << c.error();
  EXPECT_GT(t.max_loss_rel_diff(), t.loss_tolerance());
}

TEST(TrainingStep, BadOptionsNameFileAndKey) {
  const CliRun x = run_suite("bad_training", R"(cases:
  - {distributed: training_step, distributed_options: {model: {hidden: 30, heads: 4}}}
  - {distributed: training_step, distributed_options: {model: {hidden: 65536, layers: 256, vocab: 1048576, seq: 131072}}}
  - {distributed: training_step, dtypes: [fp16], distributed_options: {steps: 3, warmup_steps: 3, lr: 0}}
  - {distributed: collective, distributed_options: {sizes_bytes: [64], steps: 3}}
)",
                          "");
  EXPECT_EQ(x.exit_code, 2);
  x.expect_output_has({"bad_training.yaml:2: key 'cases[0].distributed_options.model.heads': hidden 30 must be heads (4) x an even head size",
                       "key 'cases[1].distributed_options.model': this model needs about ",
                       "key 'cases[2].dtypes[0]': a training_step runs in fp32 or bf16, not 'fp16'",
                       "key 'cases[2].distributed_options.warmup_steps': must be in [0, steps) = [0, 3), got 3",
                       "key 'cases[2].distributed_options.lr': must be in (0, 1], got 0",
                       "key 'cases[3].distributed_options': model, steps, warmup_steps, lr, loss_tolerance, bucket_mb and skip_reduce_rank "
                       "belong to distributed: training_step"});
}

}  // namespace
}  // namespace ligerbench
