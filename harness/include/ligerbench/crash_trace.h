#pragma once
// A fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) prints the signal and the native call
// stack to stderr before the process dies with that signal, so that a crash on a machine without
// a debugger (the GPU node has none) still says where it happened. Symbol names need the
// executable linked with its symbols exported (ENABLE_EXPORTS / -rdynamic); shared libraries'
// exported functions are always named.
namespace ligerbench {
void install_crash_trace();
}
