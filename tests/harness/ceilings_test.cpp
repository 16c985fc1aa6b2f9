// The ceilings cache (harness/src/ceilings.cpp, docs/MEASUREMENT.md): measured once per device
// identity, read back by the next process, measured again for another identity, on request, or
// when the file is damaged; a cache that cannot be written costs only a note. And the CPU's own
// ceilings, measured for real.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "../common/files.h"
#include "ligerbench/ceilings.h"

namespace ligerbench {
namespace {

v1::DeviceCeilings figures(double copy, double tflops) {
  v1::DeviceCeilings c;
  c.set_copy_gb_per_s(copy);
  c.set_matmul_tflop_per_s(tflops);
  c.set_matmul_dtype("fp32");
  return c;
}

struct Counted {
  int calls = 0;
  double copy = 10;
  std::function<v1::DeviceCeilings()> fn() {
    return [this] {
      ++calls;
      return figures(copy + calls, 0.5);
    };
  }
};

std::string fresh_file(const std::string& name) { return testing_files::make_temp_dir("ligerbench_ceilings") + "/" + name; }

TEST(CeilingsCache, MeasuredOnceThenReadBackForTheSameIdentity) {
  const std::string file = fresh_file("a/ceilings.json");  // its folder is made too
  Counted m;
  const auto first = cached_ceilings("cpu|host|model", "cpu", file, false, m.fn());
  EXPECT_EQ(m.calls, 1);
  EXPECT_FALSE(first.from_cache());
  EXPECT_DOUBLE_EQ(first.copy_gb_per_s(), 11);
  EXPECT_EQ(first.key(), "cpu|host|model");
  EXPECT_FALSE(first.measured_at().empty());
  const auto second = cached_ceilings("cpu|host|model", "cpu", file, false, m.fn());
  EXPECT_EQ(m.calls, 1) << "the second process reads the file";
  EXPECT_TRUE(second.from_cache());
  EXPECT_DOUBLE_EQ(second.copy_gb_per_s(), 11);
  EXPECT_EQ(second.measured_at(), first.measured_at());
}

TEST(CeilingsCache, AnotherIdentityOrARequestMeasuresAgainAndKeepsTheRest) {
  const std::string file = fresh_file("ceilings.json");
  Counted m;
  cached_ceilings("cuda|GPU-1|driver 1", "cuda:0", file, false, m.fn());
  const auto other = cached_ceilings("cuda|GPU-1|driver 2", "cuda:0", file, false, m.fn());  // a new driver
  EXPECT_EQ(m.calls, 2);
  EXPECT_FALSE(other.from_cache());
  const auto again = cached_ceilings("cuda|GPU-1|driver 1", "cuda:1", file, false, m.fn());
  EXPECT_EQ(m.calls, 2);
  EXPECT_TRUE(again.from_cache());
  EXPECT_EQ(again.device(), "cuda:1");  // the same GPU under another index
  const auto redone = cached_ceilings("cuda|GPU-1|driver 1", "cuda:0", file, true, m.fn());
  EXPECT_EQ(m.calls, 3);
  EXPECT_FALSE(redone.from_cache());
  EXPECT_DOUBLE_EQ(redone.copy_gb_per_s(), 13);
  const auto after = cached_ceilings("cuda|GPU-1|driver 1", "cuda:0", file, false, m.fn());
  EXPECT_DOUBLE_EQ(after.copy_gb_per_s(), 13) << "the re-measured figures replace the old";
  EXPECT_TRUE(cached_ceilings("cuda|GPU-1|driver 2", "cuda:0", file, false, m.fn()).from_cache());
  EXPECT_EQ(m.calls, 3);
}

TEST(CeilingsCache, ADamagedFileIsMeasuredAgainAndRewritten) {
  const std::string file = fresh_file("ceilings.json");
  std::ofstream(file) << "{ not json";
  Counted m;
  EXPECT_FALSE(cached_ceilings("k", "cpu", file, false, m.fn()).from_cache());
  EXPECT_EQ(m.calls, 1);
  EXPECT_TRUE(cached_ceilings("k", "cpu", file, false, m.fn()).from_cache());
  EXPECT_EQ(m.calls, 1);
}

TEST(CeilingsCache, AnUnwritableCacheCostsOnlyANote) {
  const std::string dir = testing_files::make_temp_dir("ligerbench_ceilings_ro");
  ASSERT_EQ(chmod(dir.c_str(), 0500), 0);
  const std::string file = dir + "/sub/ceilings.json";
  Counted m;
  ::testing::internal::CaptureStderr();
  const auto c = cached_ceilings("k", "cpu", file, false, m.fn());
  const std::string err = ::testing::internal::GetCapturedStderr();
  chmod(dir.c_str(), 0700);
  EXPECT_DOUBLE_EQ(c.copy_gb_per_s(), 11);
  if (geteuid() != 0) EXPECT_NE(err.find("cannot write the ceilings cache " + file), std::string::npos) << err;  // root writes anyway
}

TEST(Ceilings, TheCpuHasMeasuredCeilingsCachedByIdentity) {
  const std::string dir = testing_files::make_temp_dir("ligerbench_ceilings_cpu");
  setenv("LIGERBENCH_CACHE_DIR", dir.c_str(), 1);
  EXPECT_EQ(ceilings_cache_file(), dir + "/ceilings.json");
  const v1::DeviceCeilings& c = device_ceilings(at::Device("cpu"));
  EXPECT_GT(c.copy_gb_per_s(), 0.1);        // GB/s: any machine copies faster than this
  EXPECT_GT(c.matmul_tflop_per_s(), 1e-4);  // 0.1 GFLOP/s
  EXPECT_EQ(c.matmul_dtype(), "fp32");
  EXPECT_NE(c.key().find("cpu|"), std::string::npos);
  EXPECT_NE(c.key().find("threads|torch "), std::string::npos) << c.key();
  std::ifstream f(dir + "/ceilings.json");
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_NE(ss.str().find(c.key()), std::string::npos) << "the cache file holds the entry: " << ss.str();
  unsetenv("LIGERBENCH_CACHE_DIR");
}

}  // namespace
}  // namespace ligerbench
