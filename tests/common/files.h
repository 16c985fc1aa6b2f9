#pragma once
// File helpers for the tests that run real processes and read what they wrote.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace ligerbench::testing_files {

// A directory of this test binary's own under gtest's temp dir, made once (name: a prefix).
inline std::string make_temp_dir(const std::string& name) {
  std::string t = ::testing::TempDir() + name + "_XXXXXX";
  if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed for " + t);
  return t;
}

// The whole file, or "" when it cannot be read.
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ligerbench::testing_files
