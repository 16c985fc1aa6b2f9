#include "ligerbench/crash_trace.h"

#include <execinfo.h>
#include <signal.h>
#include <ucontext.h>
#include <initializer_list>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

namespace ligerbench {
namespace {

void write_str(const char* s) {
  // write(2) only: a crashed process may hold the malloc or stdio locks.
  ssize_t ignored = ::write(STDERR_FILENO, s, strlen(s));
  (void)ignored;
}

void write_hex(const char* label, uintptr_t v) {
  char buf[2 + 16 + 1];
  buf[0] = '0';
  buf[1] = 'x';
  for (int i = 0; i < 16; ++i) buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
  buf[18] = 0;
  write_str(label);
  write_str(buf);
}

void on_fatal_signal(int sig, siginfo_t* info, void* context) {
  write_str("\n*** fatal signal ");
  write_str(strsignal(sig));
  write_hex(" at address ", reinterpret_cast<uintptr_t>(info->si_addr));
  void* frames[64];
  int n = 0;
#if defined(__x86_64__)
  // The faulting instruction, and the return address on top of the stack: when the crash is a
  // call through a null or stale function pointer, the unwinder stops at the signal frame and
  // this word names the caller.
  const auto* uc = static_cast<const ucontext_t*>(context);
  const uintptr_t pc = uc->uc_mcontext.gregs[REG_RIP], sp = uc->uc_mcontext.gregs[REG_RSP];
  write_hex(", pc ", pc);
  write_str("\nfaulting instruction and the word on top of the stack:\n");
  frames[n++] = reinterpret_cast<void*>(pc);
  frames[n++] = *reinterpret_cast<void* const*>(sp);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
#else
  (void)context;
#endif
  write_str("native stack (innermost first):\n");
  n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  // SA_RESETHAND restored the default action: re-raise so the exit status still names the signal.
  raise(sig);
}

}  // namespace

void install_crash_trace() {
  // backtrace() loads libgcc on first use, which may allocate: do it now, not inside the handler.
  void* warm[1];
  backtrace(warm, 1);
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(sig, &sa, nullptr);
}

}  // namespace ligerbench
