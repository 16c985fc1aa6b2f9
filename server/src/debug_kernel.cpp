#include "ligerbench/server/debug_kernel.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "ligerbench/registry.h"

namespace ligerbench::server {
namespace {

at::Tensor fault(const at::Tensor& x, c10::string_view mode_view, int64_t sleep_ms) {
  const std::string mode(mode_view.data(), mode_view.size());
  if (mode == "segfault") {
    // A store through a wild pointer, as a kernel bug would do (volatile: not optimised away).
    *reinterpret_cast<volatile int*>(static_cast<uintptr_t>(16)) = 1;
  } else if (mode == "abort") {
    std::abort();
  } else if (mode == "exit") {
    std::_Exit(3);
  } else if (mode == "hang") {
    while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
  } else if (mode == "cuda_error") {
    // What a kernel's illegal address looks like from the host after the fact; the worker must
    // not run another case in this (now unusable) context.
    TORCH_CHECK(false, "CUDA error: an illegal memory access was encountered (simulated by debug_fault)");
  } else if (mode == "sleep") {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  }
  return x.clone();
}

std::vector<at::Tensor> call_fault(const KernelInputs& in, const CaseConfig& c) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("ligerbench_debug::fault", "")
                             .typed<at::Tensor(const at::Tensor&, c10::string_view, int64_t)>();
  return {op.call(in.tensors[0], c.param("mode"), std::stoll(c.param("sleep_ms")))};
}

std::vector<at::Tensor> identity(const KernelInputs& in, const CaseConfig&) { return {in.tensors[0].clone()}; }

KernelSpec debug_fault_spec() {
  KernelSpec s;
  s.name = "debug_fault";
  s.category = "debug";
  s.description = "crashes its worker on purpose (mode: segfault, abort, exit, hang, sleep, cuda_error, ok); testing only";
  s.ops = {"ligerbench_debug::fault"};
  s.axes = {{"N", 16, "elements"}};
  s.params = {
      {"mode", "ok", {"ok", "segfault", "abort", "exit", "hang", "sleep", "cuda_error"}, nullptr},
      {"sleep_ms", "0", {}, [](const std::string& v) {
         return !v.empty() && v.size() < 7 && v.find_first_not_of("0123456789") == std::string::npos
                    ? ""
                    : "expected milliseconds (0 .. 999999)";
       }},
  };
  s.dtypes = {"fp32"};
  s.default_dtype = "fp32";
  s.modes = {Mode::kForward};
  s.make_inputs = [](const CaseConfig& c) {
    KernelInputs in;
    in.tensors.push_back(at::randn({c.axis("N")}, at::TensorOptions().device(c.device).dtype(c.dtype)));
    in.names.push_back("input");
    return in;
  };
  s.liger = call_fault;
  s.baseline = identity;
  s.reference = identity;
  s.cost = [](const CaseConfig& c, Mode) { return Cost{8.0 * c.axis("N"), 0}; };
  s.memory_estimate = [](const CaseConfig& c) { return 16.0 * c.axis("N"); };
  return s;
}

}  // namespace

void register_debug_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Libraries made at run time rather than with TORCH_LIBRARY: the op exists only when asked for.
    static torch::Library def(torch::Library::DEF, "ligerbench_debug", c10::nullopt, __FILE__, __LINE__);
    def.def("fault(Tensor x, str mode, int sleep_ms) -> Tensor");
    static torch::Library cpu(torch::Library::IMPL, "ligerbench_debug", c10::DispatchKey::CPU, __FILE__, __LINE__);
    cpu.impl("fault", &fault);
    static torch::Library cuda(torch::Library::IMPL, "ligerbench_debug", c10::DispatchKey::CUDA, __FILE__, __LINE__);
    cuda.impl("fault", &fault);
    register_kernel(debug_fault_spec());
  });
}

}  // namespace ligerbench::server
