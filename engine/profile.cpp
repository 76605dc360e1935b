#include "engine/profile.h"

#include <chrono>

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

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Profile::Profile(Device device) : device_(device) {
  CXR_ASSERT(g_profile == nullptr, "a Profile is already alive");
  g_profile = this;
}

Profile::~Profile() { g_profile = nullptr; }

void Profile::add(const std::string& label, ProfilePhase phase, double seconds) {
  ProfileRow* row = nullptr;
  for (ProfileRow& r : rows_)  // a few dozen rows: a linear search keeps them in first-seen order
    if (r.label == label) row = &r;
  if (!row) row = &rows_.emplace_back(ProfileRow{label, {}, {}});
  const auto p = static_cast<size_t>(phase);
  row->seconds[p] += seconds;
  row->calls[p] += 1;
}

void Profile::wait_for_device() const {
#ifdef CXR_WITH_CUDA
  if (device_.is_cuda()) kernels::cuda::synchronize();
#endif
}

Profile* active_profile() { return g_profile; }

ProfileRegion::ProfileRegion(ProfilePhase phase, const std::string& label) {
  if (!g_profile) return;
  profile_ = g_profile;
  phase_ = phase;
  label_ = std::make_shared<std::string>(label);
  profile_->wait_for_device();  // what was queued before belongs to the rows before
  start_ = now_seconds();
  outer_ = g_innermost;
  if (outer_) outer_->elapsed_ += start_ - outer_->start_;  // the outer clock stops
  g_innermost = this;
  g_label = label_;
}

ProfileRegion::~ProfileRegion() {
  if (!profile_) return;
  profile_->wait_for_device();
  const double end = now_seconds();
  g_innermost = outer_;
  g_label = outer_ ? outer_->label_ : nullptr;
  if (outer_) outer_->start_ = end;  // and starts again
  if (g_profile == profile_) profile_->add(*label_, phase_, elapsed_ + (end - start_));
}

void ProfileRegion::relabel(const std::string& label) {
  if (label_) *label_ = label;
}

std::shared_ptr<const std::string> current_profile_label() { return g_label; }

}  // namespace cxr
