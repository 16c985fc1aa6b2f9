// What is specific to liger::fused_linear_cpo (its option sets against the float64 reference are in
// fused_linear_preference_test.cpp): chunking that does not change the result, each tensor's own
// requires_grad, the module and its errors. The chunk rule and the skeleton's edge cases are
// tested here too.
#include "liger/fused_linear_cpo.h"

#include "../../kernels/ops/chunked_fused_linear.h"
#include "expect_error.h"
#include "liger/nn/fused_linear_preference.h"
#include "preference_test_util.h"

namespace {

using namespace ligerbench::testing;

// Every sequence in a chunk of its own, all of them in one chunk, and uneven pieces: the same loss.
TEST(FusedLinearCpo, ChunkingDoesNotChangeTheResult) {
  const auto& spec = spec_of("fused_linear_cpo");
  for (const std::string chunk : {"1", "2", "3", "100"})
    expect_case_matches_reference(
        spec, preference_case(spec, {10, 13, 8, 40}, at::kDouble, "cpu", {{"chunk_size", chunk}, {"bias", "true"}}));
}

TEST(ChunkedFusedLinear, PairedChunksFollowTorchChunk) {
  using liger::detail::paired_chunks;
  // B 10 (5 pairs), chunk_size 2: 10 / 4 = 2 chunks, pieces of ceil(5 / 2) = 3 and 2 sequences.
  const auto c = paired_chunks(10, 7, 2);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0][0].start, 0);
  EXPECT_EQ(c[0][0].rows, 21);
  EXPECT_EQ(c[0][1].start, 35);
  EXPECT_EQ(c[0][1].rows, 21);
  EXPECT_EQ(c[1][0].start, 21);
  EXPECT_EQ(c[1][0].rows, 14);
  EXPECT_EQ(c[1][1].start, 56);
  EXPECT_EQ(c[1][1].rows, 14);
  // chunk_size 1: one pair per chunk; a chunk_size beyond the batch: one chunk.
  EXPECT_EQ(paired_chunks(8, 3, 1).size(), 4u);
  EXPECT_EQ(paired_chunks(8, 3, 50).size(), 1u);
  EXPECT_EQ(liger::detail::consecutive_chunks(10, 4).size(), 3u);
  EXPECT_EQ(liger::detail::consecutive_chunks(10, 4)[2][0].rows, 2);
}

TEST(FusedLinearCpo, EachTensorsOwnRequiresGrad) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({4, 5, 8}).requires_grad_(false);
  const at::Tensor w = at::randn({20, 8}).requires_grad_(true);
  const at::Tensor b = at::randn({20}).requires_grad_(false);
  const at::Tensor y = at::randint(0, 20, {4, 5});
  const auto o = liger::fused_linear_cpo(x, w, y, b);
  const auto g = torch::autograd::grad({o.loss}, {w});
  EXPECT_TRUE(g[0].defined() && g[0].abs().sum().item<double>() > 0) << "a frozen input still gives dW";
  at::NoGradGuard no_grad;
  const auto inference = liger::fused_linear_cpo(x, w, y, b);
  EXPECT_FALSE(inference.loss.requires_grad());
  EXPECT_NEAR(inference.loss.item<double>(), o.loss.item<double>(), 1e-6);
}

TEST(FusedLinearCpo, ModuleUsesLigersDefaultsAndWeightFirst) {
  liger::LigerFusedLinearCPOLoss module;
  EXPECT_EQ(module->options.ignore_index(), -100);
  EXPECT_DOUBLE_EQ(module->options.beta(), 0.1);
  EXPECT_DOUBLE_EQ(module->options.alpha(), 1.0);
  EXPECT_TRUE(module->options.compute_nll_loss());
  EXPECT_FALSE(module->options.average_log_prob());
  EXPECT_EQ(module->options.chunk_size(), 1);
  at::manual_seed(5);
  const at::Tensor x = at::randn({4, 6, 8}), w = at::randn({30, 8}), y = at::randint(0, 30, {4, 6});
  const auto m = module->forward(w, x, y);
  const auto f = liger::fused_linear_cpo(x, w, y);
  EXPECT_TRUE(at::allclose(m.loss, f.loss));
  EXPECT_TRUE(at::allclose(m.chosen_rewards, 0.1 * m.chosen_logps)) << "chosen_rewards = beta * chosen_logps";
  EXPECT_THROW(liger::LigerFusedLinearCPOLoss(liger::LigerFusedLinearCPOLossOptions().label_smoothing(1.5)),
               c10::Error);
  EXPECT_THROW(liger::LigerFusedLinearCPOLoss(liger::LigerFusedLinearCPOLossOptions().chunk_size(0)), c10::Error);
}

TEST(FusedLinearCpo, BadInputsNameWhatIsWrong) {
  const at::Tensor x = at::randn({4, 5, 8}), w = at::randn({20, 8}), y = at::randint(0, 20, {4, 5});
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x.narrow(0, 0, 3), w, y.narrow(0, 0, 3)); }, "B even");
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x.reshape({20, 8}), w, y); }, "input must be 3-D");
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x.narrow(1, 0, 0), w, y.narrow(1, 0, 0)); },
               "at least one token per sequence");
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x, at::randn({20, 7}), y); }, "weight must be (V, H)");
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x, w, y.narrow(1, 0, 4)); }, "target must be (B, T)");
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x, w, y.to(at::kFloat)); }, "target must be int64 or int32");
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x, w, at::full({4, 5}, 20, at::kLong)); }, "outside [0, 20)");
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x, w, y, at::randn({19})); }, "bias must have shape (20,)");
  expect_error("fused_linear_cpo", [&] { liger::fused_linear_cpo(x, w, y, c10::nullopt, -100, 0.1, 1.0, 0.0, true, false, 0); },
               "chunk_size must be at least 1");
}

}  // namespace
