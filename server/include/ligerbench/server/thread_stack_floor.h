#pragma once
// Thread stacks that libraries ask for explicitly are made big enough for the process's static TLS.
//
// Why: Debian's civetweb (under prometheus-cpp's Exposer) creates its threads with a fixed 100 KiB
// stack (USE_STACK_SIZE). glibc carves a thread's static TLS out of its stack, and the PyTorch
// wheel's libraries carry so much static TLS that a 100 KiB stack cannot hold it: pthread_create
// fails ("Cannot create first worker thread") and /metrics never starts on GPU nodes that use the
// wheel's LibTorch. ligerbenchd therefore defines pthread_attr_setstacksize itself (the dynamic
// linker binds the libraries' calls to the executable's definition first) and adds the static TLS
// size to every explicit request before passing it on to glibc's: each thread keeps the stack
// its library asked for, on top of the TLS. A larger stack than asked for is always safe.

#include <cstddef>

namespace ligerbench::server {

// Bytes of static TLS of the objects loaded at start-up (PT_TLS segments, with alignment): what
// the floor adds to every explicitly requested stack size.
std::size_t static_tls_bytes();

}  // namespace ligerbench::server
