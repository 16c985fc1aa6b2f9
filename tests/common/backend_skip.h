#pragma once
// Skips a test whose rank processes need a process-group backend this build lacks (a GPU node's
// LibTorch wheel ships no Gloo headers), loudly and with the reason, so it counts as skipped.
#include <gtest/gtest.h>

#include <string>

#include "ligerbench/distributed.h"

#define SKIP_WITHOUT_BACKEND(device)                                                                   \
  if (const std::string why_unavailable = ligerbench::distributed_backend_unavailable(device);       \
      !why_unavailable.empty()) {                                                                     \
    GTEST_SKIP() << "ranks on " << (device) << " cannot meet: " << why_unavailable;                   \
  }
