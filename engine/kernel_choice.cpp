#include "engine/kernel_choice.h"

#include <atomic>

#include "engine/error.h"

namespace cxr {
namespace {
std::atomic<KernelChoice> g_default{KernelChoice::Custom};
thread_local std::optional<KernelChoice> t_override;
}  // namespace

KernelChoice parse_kernel_choice(const std::string& text) {
  if (text == "custom") return KernelChoice::Custom;
  if (text == "vendor") return KernelChoice::Vendor;
  throw InputError("kernels: expected custom or vendor, got '" + text + "'");
}

const char* kernel_choice_name(KernelChoice choice) { return choice == KernelChoice::Vendor ? "vendor" : "custom"; }

KernelChoice default_kernel_choice() { return g_default.load(); }
void set_default_kernel_choice(KernelChoice choice) { g_default.store(choice); }
KernelChoice current_kernel_choice() { return t_override ? *t_override : g_default.load(); }

KernelChoiceScope::KernelChoiceScope(std::optional<KernelChoice> choice) : previous_(t_override) {
  if (choice) t_override = choice;
}
KernelChoiceScope::~KernelChoiceScope() { t_override = previous_; }

}  // namespace cxr
