#pragma once
// A registered liger operator's typed dispatcher handle. Calling an op through the dispatcher, as
// Python would, lets the call reach the kernel of the arguments' dispatch keys (Autograd,
// Autocast, CPU, CUDA) instead of one backend's function directly.
#include <ATen/core/dispatch/Dispatcher.h>

#include <string>

namespace liger::detail {

// `name` is the qualified operator name, "liger::<op>". The lookup is a hash-map search: callers
// keep the handle in a function-local static, looked up once.
template <typename Signature>
c10::TypedOperatorHandle<Signature> typed_op(const std::string& name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name.c_str(), "").typed<Signature>();
}

}  // namespace liger::detail
