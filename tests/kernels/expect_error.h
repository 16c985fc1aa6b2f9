#pragma once
// One check for the "clear error" tests: a call must throw a c10::Error whose message names what
// was wrong (contains `needle`).
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace ligerbench::testing {

inline void expect_error(const std::string& what, const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << what << " was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << what << ": " << e.what();
  }
}

// The same, the call named by the message it must give.
inline void expect_error(const std::function<void()>& f, const std::string& needle) {
  expect_error("a call that must fail with '" + needle + "'", f, needle);
}

}  // namespace ligerbench::testing
