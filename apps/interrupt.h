// Stopping a command with Ctrl-C or kill (SIGINT, SIGTERM) without leaving half its output behind.
#pragma once
#include <stdexcept>
#include <string>

namespace cxr {

// The user stopped the command. main() exits with 128 + signal, as a shell would report it.
class Interrupted : public std::runtime_error {
 public:
  Interrupted(const std::string& what, int signal) : std::runtime_error(what), signal(signal) {}
  const int signal;
};

// While one is alive, SIGINT and SIGTERM set a flag instead of ending the process, so that a command
// writing many files (synth, split) stops between two of them and removes what it made: killed
// outright, it left a half-written --out that the same command then refused as not empty. check()
// (from any thread) throws Interrupted once a signal came. One at a time; the previous handlers
// come back when it ends. (train needs none: its run folder is safe against any kill, SIGKILL too.)
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  void check() const;
};

}  // namespace cxr
