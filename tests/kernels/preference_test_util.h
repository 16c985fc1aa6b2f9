#pragma once
// Shared by the alignment-loss tests (fused_linear_{cpo,dpo,orpo,simpo}_test.cpp): a case of the
// registered KernelSpec at a given shape and params, the Liger op against the spec's float64
// reference (the unfused TRL-style composition, differentiated by autograd) for the loss, every
// aux output and the gradient of every input that requires one.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "test_helpers.h"
#include "spec_reference.h"
#include "test_util.h"

namespace ligerbench::testing {

struct PrefShape {
  int64_t batch, seq_len, hidden, vocab;
};

inline CaseConfig preference_case(const KernelSpec& spec, PrefShape s, at::ScalarType dtype,
                                  const std::string& device, const std::map<std::string, std::string>& overrides,
                                  uint64_t seed = 7) {
  CaseConfig c;
  c.shape = {{"B", s.batch}, {"T", s.seq_len}, {"H", s.hidden}, {"V", s.vocab}};
  c.dtype = dtype;
  c.device = to_device(device);
  c.seed = seed;
  c.params = spec_params(spec, overrides);
  return c;
}

inline std::string describe(const CaseConfig& c) {
  std::string d = dtype_label(c.dtype) + " " + c.device.str();
  for (const auto& [n, v] : c.shape) d += " " + n + "=" + std::to_string(v);
  for (const auto& [k, v] : c.params) d += " " + k + "=" + v;
  return d;
}

// The outputs whose reference lands near zero by cancellation, judged with the spec's absolute
// floor: the two logits means (outputs 3 and 4) of every loss, and ORPO's log_odds_chosen (output
// 9), a mean of differences of log-probs (fused_linear_orpo_spec.cpp says why).
inline bool lands_near_zero(const KernelSpec& spec, std::size_t output) {
  return output == 3 || output == 4 || (spec.name == "fused_linear_orpo" && output == 9);
}

// Runs `inputs` through the spec's Liger call and the float64 reference; compares the loss, every
// aux output and every gradient (upstream gradient 0.7, so the rescale is exercised) at the spec's
// tolerance for tol_dtype (as the harness judges it). Returns the Liger outputs.
inline std::vector<at::Tensor> expect_liger_matches_reference(const KernelSpec& spec, const CaseConfig& c,
                                                              const KernelInputs& in, at::ScalarType tol_dtype) {
  SCOPED_TRACE(describe(c));
  // The spec's absolute floor is for the outputs that land near zero only (lands_near_zero);
  // everything else is held to the dtype table without it.
  const Tolerance means_tol = tolerance_for(spec, tol_dtype);
  Tolerance tol = means_tol;
  tol.abs_floor = 0;
  KernelInputs ref_in;
  ref_in.names = in.names;
  std::vector<at::Tensor> diff_in, diff_ref;
  std::vector<std::string> diff_names;
  for (std::size_t i = 0; i < in.tensors.size(); ++i) {
    at::Tensor r = in.tensors[i].detach().cpu().clone();
    if (at::isFloatingType(r.scalar_type())) r = r.to(at::kDouble);
    r.set_requires_grad(in.tensors[i].requires_grad());
    ref_in.tensors.push_back(r);
    if (in.tensors[i].requires_grad()) {
      diff_in.push_back(in.tensors[i]);
      diff_ref.push_back(r);
      diff_names.push_back(in.names[i]);
    }
  }
  const std::vector<at::Tensor> outs = spec.liger(in, c);
  const std::vector<at::Tensor> ref = spec.reference(ref_in, c);
  EXPECT_EQ(outs.size(), ref.size()) << "outputs";
  const at::ScalarType out_dtype = c.dtype == at::kDouble ? at::kDouble : at::kFloat;
  for (std::size_t i = 0; i < outs.size() && i < ref.size(); ++i) {
    EXPECT_EQ(outs[i].scalar_type(), out_dtype) << "output " << i << " is fp32 (fp64 for fp64 inputs)";
    if (i > 0) EXPECT_FALSE(outs[i].requires_grad()) << "aux output " << i << " carries no gradient";
    expect_close("output " + std::to_string(i), outs[i], ref[i].detach(), lands_near_zero(spec, i) ? means_tol : tol);
  }
  if (diff_in.empty()) return outs;
  const at::Tensor g = at::full({}, 0.7, outs[0].options());
  const auto grads = torch::autograd::grad({outs[0]}, diff_in, {g});
  const auto ref_grads = torch::autograd::grad({ref[0]}, diff_ref, {g.cpu().to(at::kDouble)});
  for (std::size_t i = 0; i < grads.size(); ++i) {
    EXPECT_EQ(grads[i].scalar_type(), diff_in[i].scalar_type()) << "grad of " << diff_names[i] << " in its own dtype";
    expect_close("grad_" + diff_names[i], grads[i], ref_grads[i], tol);
  }
  return outs;
}

// The spec's own inputs for `c`, seeded as the harness seeds them.
inline std::vector<at::Tensor> expect_case_matches_reference(const KernelSpec& spec, const CaseConfig& c) {
  at::manual_seed(c.seed);
  return expect_liger_matches_reference(spec, c, spec.make_inputs(c), c.dtype);
}

// The dtypes every alignment-loss test covers; float64 checks the analytic gradients exactly.
inline std::vector<at::ScalarType> preference_dtypes() { return {at::kDouble, at::kFloat, at::kBFloat16, at::kHalf}; }

// Every option set on Liger's test shape (B 6, T 47, H 31, V 123: one pair per chunk) and on B 10
// in two uneven chunks (chunk_size 2: 3 and 2 pairs).
inline void expect_options_match(const KernelSpec& spec, const std::string& device, at::ScalarType dtype,
                                 const std::vector<std::map<std::string, std::string>>& options) {
  for (const PrefShape s : {PrefShape{6, 47, 31, 123}, PrefShape{10, 9, 16, 50}})
    for (auto o : options) {
      if (s.batch == 10) o["chunk_size"] = "2";
      expect_case_matches_reference(spec, preference_case(spec, s, dtype, device, o));
    }
}

using PreferenceParam = std::tuple<std::string, at::ScalarType>;

inline std::string preference_param_name(const ::testing::TestParamInfo<PreferenceParam>& info) {
  const at::ScalarType t = std::get<1>(info.param);
  return std::get<0>(info.param) + "_" + (t == at::kDouble ? std::string("fp64") : dtype_label(t));
}

// Autocast's mix: weight (and bias) fp32, hidden states bf16 or fp16; dX comes back in the input's
// dtype, dW and db in fp32, matched against float64 at the input dtype's tolerance. On CPU, and on
// CUDA when a GPU is visible (said on stdout when not).
inline void expect_mixed_dtypes_match(const KernelSpec& spec, const std::map<std::string, std::string>& params) {
  for (const std::string& device : visible_devices(spec.name + " mixed dtypes")) {
    for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
      CaseConfig c = preference_case(spec, {6, 47, 31, 123}, at::kFloat, device, params);
      at::manual_seed(c.seed);
      KernelInputs in = spec.make_inputs(c);
      for (std::size_t i = 0; i < in.tensors.size(); ++i)
        if (in.names[i] == "input" || in.names[i] == "ref_input") {
          const bool rg = in.tensors[i].requires_grad();
          in.tensors[i] = in.tensors[i].detach().to(dtype).requires_grad_(rg);
        }
      expect_liger_matches_reference(spec, c, in, dtype);
    }
  }
}

}  // namespace ligerbench::testing
