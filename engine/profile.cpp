#include "engine/profile.h"

#include <exception>

#include "engine/error.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace cxr {

namespace {
Profile* g_profile = nullptr;
thread_local ProfileRegion* g_innermost = nullptr;  // the innermost live region (null: none)
// The label nodes recorded now carry: the innermost region's (null when none).
thread_local std::shared_ptr<const std::string> g_label;

double seconds_between(ProfileRegion::Clock::time_point a, ProfileRegion::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

Profile::Profile(Device device) : device_(device) {
  CXR_ASSERT(g_profile == nullptr, "a Profile is already alive");
  g_profile = this;
}

Profile::~Profile() { g_profile = nullptr; }  // a region still alive then adds nothing, and waits for nothing

void Profile::add(const std::string& label, ProfilePhase phase, double seconds) {
  ProfileRow* row = nullptr;
  for (ProfileRow& r : rows_)  // a few dozen rows: a linear search keeps them in first-seen order
    if (r.label == label) row = &r;
  if (!row) row = &rows_.emplace_back(ProfileRow{label, {}, {}});
  const auto p = static_cast<size_t>(phase);
  row->seconds[p] += seconds;
  row->calls[p] += 1;
}

void Profile::wait_for_device() {
  if (!deferred_error_.empty()) {  // a region's end met it, where it could not be thrown
    const std::string message = std::move(deferred_error_);
    deferred_error_.clear();
    throw InternalError(message);
  }
#ifdef CXR_WITH_CUDA
  if (device_.is_cuda()) kernels::cuda::synchronize();
#endif
}

void Profile::wait_at_region_end() noexcept {
  try {
    wait_for_device();
  } catch (const std::exception& e) {
    // A kernel's error (an illegal address) usually surfaces at the next wait, often this one, in a
    // destructor, where throwing would terminate the program without a word: kept for the next
    // wait_for_device() to throw, with its message.
    if (deferred_error_.empty()) deferred_error_ = e.what();
  }
}

Profile* active_profile() { return g_profile; }

ProfileRegion::ProfileRegion(ProfilePhase phase, const std::string& label) {
  if (!g_profile) return;
  g_profile->wait_for_device();  // what was queued before belongs to the rows before (may throw: nothing set yet)
  profile_ = g_profile;
  phase_ = phase;
  label_ = std::make_shared<std::string>(label);
  start_ = Clock::now();
  outer_ = g_innermost;
  if (outer_) outer_->elapsed_ += seconds_between(outer_->start_, start_);  // the outer clock stops
  g_innermost = this;
  g_label = label_;
}

ProfileRegion::~ProfileRegion() {
  if (!profile_) return;
  const bool profile_alive = g_profile == profile_;  // else it was destroyed first: touch nothing of it
  if (profile_alive) profile_->wait_at_region_end();
  const Clock::time_point end = Clock::now();
  g_innermost = outer_;
  g_label = outer_ ? outer_->label_ : nullptr;
  if (outer_) outer_->start_ = end;  // and starts again
  if (profile_alive) profile_->add(*label_, phase_, elapsed_ + seconds_between(start_, end));
}

void ProfileRegion::relabel(const std::string& label) {
  if (label_) *label_ = label;
}

std::shared_ptr<const std::string> current_profile_label() { return g_label; }

}  // namespace cxr
