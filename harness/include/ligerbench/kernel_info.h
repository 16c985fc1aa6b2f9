#pragma once
// What the registry says about its kernels, as the schema's KernelInfo: the server's ListKernels
// answers with it and `ligerbench kernels --json` prints it (the protobuf JSON mapping).
#include "ligerbench/kernel_spec.h"
#include "ligerbench/v1/service.pb.h"

namespace ligerbench {

v1::KernelInfo kernel_info(const KernelSpec& spec);

// Every registered kernel, in registration order.
v1::ListKernelsResponse list_kernels();

}  // namespace ligerbench
