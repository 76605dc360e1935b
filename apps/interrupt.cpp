#include "apps/interrupt.h"

#include <atomic>
#include <csignal>

#include "engine/error.h"

namespace cxr {
namespace {

std::atomic<int> g_signal{0};  // lock-free: safe to store from a signal handler
std::atomic<bool> g_active{false};
struct sigaction g_old_int, g_old_term;

extern "C" void remember_signal(int signal) { g_signal.store(signal); }

}  // namespace

InterruptGuard::InterruptGuard() {
  CXR_ASSERT(!g_active.exchange(true), "InterruptGuard: one at a time");
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_old_int);
  sigaction(SIGTERM, &action, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_active.store(false);
}

void InterruptGuard::check() const {
  if (const int signal = g_signal.load())
    throw Interrupted(std::string("interrupted by ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"), signal);
}

}  // namespace cxr
