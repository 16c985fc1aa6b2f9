#pragma once
// debug_fault: a kernel that crashes its process on purpose (param mode: segfault, abort, exit,
// hang, sleep, cuda_error, ok), to test worker isolation. Registered only when the server's config sets
// debug_kernels, so normal listings never show it.
namespace ligerbench::server {

// Adds debug_fault to the harness registry and its operator (ligerbench_debug::fault) to the
// dispatcher. Idempotent; call at startup before any Case exists.
void register_debug_kernels();

}  // namespace ligerbench::server
