#include "ligerbench/registry.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include "specs/specs.h"

namespace ligerbench {

namespace {

std::vector<KernelSpec>& mutable_registry() {
  // One line per kernel (its spec lives in harness/specs/<kernel>_spec.cpp).
  static std::vector<KernelSpec> registry = {
      specs::rms_norm(),
      specs::layer_norm(),
      specs::softmax(),
      specs::sparsemax(),
      specs::rope(),
      specs::swiglu(),
      specs::geglu(),
      specs::embedding(),
      specs::cross_entropy(),
      specs::fused_linear_cross_entropy(),
      specs::kl_div(),
      specs::jsd(),
      specs::fused_linear_jsd(),
      specs::fused_linear_cpo(),
      specs::fused_linear_dpo(),
      specs::fused_linear_orpo(),
      specs::fused_linear_simpo(),
      specs::multi_token_attention(),
      specs::matmul_int2xint8(),
  };
  return registry;
}

}  // namespace

const std::vector<KernelSpec>& kernel_registry() { return mutable_registry(); }

void register_kernel(KernelSpec spec) {
  if (find_kernel(spec.name) == nullptr) mutable_registry().push_back(std::move(spec));
}

const KernelSpec* find_kernel(const std::string& name) {
  for (const auto& k : kernel_registry())
    if (k.name == name) return &k;
  return nullptr;
}

std::vector<std::string> kernel_backends(const KernelSpec& spec) {
  std::vector<std::string> out;
  for (auto [key, label] : {std::pair{c10::DispatchKey::CPU, "cpu"}, std::pair{c10::DispatchKey::CUDA, "cuda"}}) {
    bool all = !spec.ops.empty();
    for (const auto& op : spec.ops) {
      auto handle = c10::Dispatcher::singleton().findOp(c10::OperatorName(op, ""));
      all = all && handle.has_value() && handle->hasKernelForDispatchKey(key);
    }
    if (all) out.push_back(label);
  }
  return out;
}

}  // namespace ligerbench
