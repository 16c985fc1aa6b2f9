// The executable's pthread_attr_setstacksize adds the static TLS to explicit stack requests, so
// libraries with fixed small stacks (civetweb: 100 KiB) still start threads beside LibTorch.
#include <gtest/gtest.h>
#include <pthread.h>

#include "ligerbench/server/thread_stack_floor.h"

namespace {

TEST(ThreadStackFloor, ExplicitStackRequestsGainTheStaticTls) {
  const std::size_t tls = ligerbench::server::static_tls_bytes();
  EXPECT_GT(tls, 0u) << "libc and libstdc++ alone have static TLS";
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  constexpr std::size_t kCivetwebStack = 102400;
  ASSERT_EQ(pthread_attr_setstacksize(&attr, kCivetwebStack), 0);
  std::size_t got = 0;
  ASSERT_EQ(pthread_attr_getstacksize(&attr, &got), 0);
  EXPECT_EQ(got, kCivetwebStack + tls) << "the call did not reach the executable's floor";

  pthread_t thread;
  int ran = 0;
  ASSERT_EQ(pthread_create(&thread, &attr, [](void* p) -> void* { *static_cast<int*>(p) = 1; return nullptr; }, &ran), 0);
  ASSERT_EQ(pthread_join(thread, nullptr), 0);
  EXPECT_EQ(ran, 1);
  pthread_attr_destroy(&attr);
}

}  // namespace
