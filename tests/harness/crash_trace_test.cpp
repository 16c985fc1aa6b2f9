// The crash trace: a fatal signal prints its name, the faulting pc and a native stack to stderr,
// and the process still dies by that signal (so exit statuses keep naming it).
#include "ligerbench/crash_trace.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace {

void crash_with(int sig) {
  ligerbench::install_crash_trace();
  raise(sig);
}

TEST(CrashTrace, SegfaultPrintsTheSignalAndAStackAndStillDiesByIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // re-executes the binary: safe with LibTorch's threads
  EXPECT_EXIT(crash_with(SIGSEGV), ::testing::KilledBySignal(SIGSEGV),
              "fatal signal Segmentation fault.*native stack \\(innermost first\\)");
}

TEST(CrashTrace, AbortToo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(crash_with(SIGABRT), ::testing::KilledBySignal(SIGABRT), "fatal signal Aborted");
}

}  // namespace
