#include "ligerbench/server/thread_stack_floor.h"

#include <cerrno>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>

namespace ligerbench::server {

std::size_t static_tls_bytes() {
  static const std::size_t bytes = [] {
    std::size_t total = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            const auto& ph = info->dlpi_phdr[i];
            if (ph.p_type == PT_TLS) *static_cast<std::size_t*>(data) += ph.p_memsz + ph.p_align;
          }
          return 0;
        },
        &total);
    return total;
  }();
  return bytes;
}

}  // namespace ligerbench::server

// See thread_stack_floor.h. glibc's own function is found with RTLD_NEXT.
extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, std::size_t size) {
  using Fn = int (*)(pthread_attr_t*, std::size_t);
  static const Fn glibc = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  if (glibc == nullptr) return ENOSYS;
  return glibc(attr, size + ligerbench::server::static_tls_bytes());
}
