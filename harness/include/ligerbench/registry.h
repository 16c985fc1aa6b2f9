#pragma once
#include <string>
#include <vector>

#include "ligerbench/kernel_spec.h"

namespace ligerbench {

// All kernels the harness knows, in registration order.
const std::vector<KernelSpec>& kernel_registry();
const KernelSpec* find_kernel(const std::string& name);

// Adds a kernel that is not part of the build's set (the server's debug kernels). Call it at
// startup, before any Case exists: it may move the registry's entries.
void register_kernel(KernelSpec spec);

// Backends with a kernel registered in the dispatcher for every op of the spec: "cpu", "cuda".
std::vector<std::string> kernel_backends(const KernelSpec& spec);

}  // namespace ligerbench
