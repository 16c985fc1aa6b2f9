#pragma once
// What torch.autograd.gradcheck does, for the kernel tests: the gradients autograd returns for
// sum(f(inputs) * v) against central differences, in float64.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <functional>
#include <string>
#include <vector>

namespace ligerbench::testing {

using TensorFn = std::function<at::Tensor(const std::vector<at::Tensor>&)>;

// `inputs` are float64 leaves; those with requires_grad set are checked.
inline void expect_gradients_match_finite_differences(const std::string& what, const TensorFn& f,
                                                      const std::vector<at::Tensor>& inputs, double h = 1e-6,
                                                      double rtol = 1e-5, double atol = 1e-6) {
  std::vector<at::Tensor> diff;
  for (const auto& t : inputs)
    if (t.requires_grad()) diff.push_back(t);
  ASSERT_FALSE(diff.empty()) << what << ": no input requires grad";
  const at::Tensor y = f(inputs);
  const at::Tensor v = at::randn_like(y);
  const auto grads = torch::autograd::grad({y}, diff, {v});
  std::vector<at::Tensor> detached;
  for (const auto& t : inputs) detached.push_back(t.detach());
  auto objective = [&](const std::vector<at::Tensor>& in) { return f(in).mul(v).sum().item<double>(); };
  std::size_t g = 0;
  for (std::size_t which = 0; which < inputs.size(); ++which) {
    if (!inputs[which].requires_grad()) continue;
    at::Tensor numeric = at::zeros_like(detached[which]);
    for (int64_t i = 0; i < numeric.numel(); ++i) {
      std::vector<at::Tensor> plus = detached, minus = detached;
      plus[which] = detached[which].clone();
      minus[which] = detached[which].clone();
      plus[which].view(-1)[i] += h;
      minus[which].view(-1)[i] -= h;
      numeric.view(-1)[i] = (objective(plus) - objective(minus)) / (2 * h);
    }
    EXPECT_TRUE(at::allclose(grads[g], numeric, rtol, atol))
        << what << ": input " << which << "\nautograd:\n" << grads[g] << "\nfinite differences:\n" << numeric;
    ++g;
  }
}

}  // namespace ligerbench::testing
