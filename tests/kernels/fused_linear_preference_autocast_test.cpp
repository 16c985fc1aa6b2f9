// The four alignment losses (fused_linear_cpo, _dpo, _orpo, _simpo) under torch.autocast, on CPU
// and CUDA, through their KernelSpecs' Liger calls: with fp32 hidden states, weight and bias, the
// Autocast kernel casts the hidden states to autocast's dtype exactly as an explicit cast would
// (same loss, aux outputs and gradients, bit for bit), dX comes back in fp32 and dW/db in the
// parameters' fp32, and the result differs from the plain fp32 one (the cast did happen).
#include <torch/csrc/autograd/autograd.h>

#include "autocast_guard.h"
#include "preference_test_util.h"
#include "test_helpers.h"

namespace {

using namespace ligerbench::testing;

struct LossRun {
  std::vector<at::Tensor> outs, grads;
};

// The spec's Liger call on `in` (hidden states cast to `cast` first, differentiably, unless it is
// undefined) and the gradients of the loss w.r.t. the fp32 leaves that require one.
LossRun run_liger(const ligerbench::KernelSpec& spec, const ligerbench::CaseConfig& c, const ligerbench::KernelInputs& in,
        c10::optional<at::ScalarType> cast) {
  ligerbench::KernelInputs call = in;
  std::vector<at::Tensor> leaves;
  for (std::size_t i = 0; i < in.tensors.size(); ++i) {
    if (in.tensors[i].requires_grad()) leaves.push_back(in.tensors[i]);
    if (cast && in.names[i] == "input") call.tensors[i] = in.tensors[i].to(*cast);
  }
  LossRun r;
  r.outs = spec.liger(call, c);
  r.grads = torch::autograd::grad({r.outs[0]}, leaves);
  return r;
}

class PreferenceAutocast : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Devices, PreferenceAutocast, ::testing::ValuesIn(test_devices()), string_param_name);

TEST_P(PreferenceAutocast, CastsHiddenStatesAsAnExplicitCastWould) {
  const std::string& device = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device);
  const at::DeviceType type = to_device(device).type();
  const at::ScalarType low = liger::compat::autocast_dtype(type);
  for (const std::string name : {"fused_linear_cpo", "fused_linear_dpo", "fused_linear_orpo", "fused_linear_simpo"}) {
    SCOPED_TRACE(name + " " + device);
    const auto& spec = spec_of(name);
    const auto c = preference_case(spec, {4, 11, 16, 37}, at::kFloat, device, {{"bias", "true"}, {"input_grad", "true"}});
    at::manual_seed(c.seed);
    const ligerbench::KernelInputs in = spec.make_inputs(c);
    LossRun autocast;
    {
      const AutocastOn on(type);
      autocast = run_liger(spec, c, in, c10::nullopt);
    }
    const LossRun explicit_cast = run_liger(spec, c, in, low);
    const LossRun fp32 = run_liger(spec, c, in, c10::nullopt);
    ASSERT_EQ(autocast.outs.size(), explicit_cast.outs.size());
    for (std::size_t i = 0; i < autocast.outs.size(); ++i)
      EXPECT_TRUE(at::equal(autocast.outs[i], explicit_cast.outs[i])) << "output " << i;
    ASSERT_EQ(autocast.grads.size(), 3u) << "input, weight and bias require grad";
    for (std::size_t i = 0; i < autocast.grads.size(); ++i) {
      EXPECT_EQ(autocast.grads[i].scalar_type(), at::kFloat) << "gradient " << i << " in its fp32 leaf's dtype";
      EXPECT_TRUE(at::equal(autocast.grads[i], explicit_cast.grads[i])) << "gradient " << i;
    }
    EXPECT_FALSE(at::equal(autocast.outs[0], fp32.outs[0])) << "autocast ran the loss in fp32";
  }
}

}  // namespace
