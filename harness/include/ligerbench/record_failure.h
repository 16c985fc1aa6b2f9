#pragma once
// The one way of turning an exception into a failed case result: run_case, the distributed
// launcher and the ranks.
#include <c10/util/Exception.h>

#include <exception>

#include "ligerbench/proto.h"

namespace ligerbench {

// Runs fn; an exception it throws becomes r's error (ok = false), LibTorch's without its backtrace.
template <class Fn>
void record_failure(v1::CaseResult& r, Fn&& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    r.set_ok(false);
    r.set_error(e.what_without_backtrace());
  } catch (const std::exception& e) {
    r.set_ok(false);
    r.set_error(e.what());
  }
}

}  // namespace ligerbench
