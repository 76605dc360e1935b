// Where a training step's time goes, layer by layer: what `cxrnet profile` prints, with no external
// profiler. Off unless a Profile is alive; then
//   - the model times each layer's forward in a ProfileRegion (layers/model.cpp), and the loss and the
//     optimizer time themselves the same way (train_on_batch);
//   - every graph node recorded inside a region carries the region's label, and backward times each
//     node under it (engine/autograd.cpp), so a layer's backward lands in the layer's row.
// On a GPU every region waits for the device where it starts and where it ends, so a row holds its
// own kernels' time; the profiled step is then slower than an unprofiled one (the host no longer
// queues ahead of the GPU): the split is the point, not the total. Profiling is for one thread, the
// one that runs the model.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/device.h"

namespace cxr {

enum class ProfilePhase { Forward = 0, Backward = 1, Optimizer = 2 };

struct ProfileRow {
  std::string label;
  std::array<double, 3> seconds{};  // by ProfilePhase
  std::array<int64_t, 3> calls{};
};

// Collects rows while alive. One at a time, for the thread that runs the model: a second while one
// lives is a logic error. Graph nodes keep the label they were recorded under, so a backward run
// under a later Profile lands in a row of that name.
class Profile {
 public:
  explicit Profile(Device device);
  ~Profile();
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;

  // The rows so far, in the order their labels were first added (a region adds where it ends: an
  // inner region's row comes before its outer one's).
  const std::vector<ProfileRow>& rows() const { return rows_; }
  void clear() { rows_.clear(); }  // e.g. after warm-up steps

  void add(const std::string& label, ProfilePhase phase, double seconds);
  // Waits for the device (a no-op on the CPU). Throws the error a region's end met, if one did.
  void wait_for_device();
  // The same from a region's destructor, which must not throw: an error is kept for the next
  // wait_for_device().
  void wait_at_region_end() noexcept;

 private:
  Device device_;
  std::vector<ProfileRow> rows_;
  std::string deferred_error_;
};

// The live Profile, or null (the usual case: then nothing is timed).
Profile* active_profile();

// Times its scope under `label` and `phase` into the live Profile, if any; graph nodes recorded
// inside it carry the label. Regions nest, and a row holds its own time only: while an inner region
// runs, the outer one's clock stops (ResNet50V2's blocks are rows of their own, and the layer's row
// keeps what runs between them). Costs a pointer test when no Profile is alive.
class ProfileRegion {
 public:
  ProfileRegion(ProfilePhase phase, const std::string& label);
  ~ProfileRegion();
  ProfileRegion(const ProfileRegion&) = delete;
  ProfileRegion& operator=(const ProfileRegion&) = delete;

  // Renames the row this region times into, and the nodes already recorded in it: a layer that ran
  // fused with the ones after it ("batch_normalization + dropout + activation").
  void relabel(const std::string& label);

  using Clock = std::chrono::steady_clock;

 private:
  Profile* profile_ = nullptr;  // null: this region does nothing
  ProfileRegion* outer_ = nullptr;
  ProfilePhase phase_ = ProfilePhase::Forward;
  std::shared_ptr<std::string> label_;
  Clock::time_point start_;  // when this region's clock last started
  double elapsed_ = 0;       // its own seconds before that
};

// For autograd's record(): the label of the innermost region, null outside every region or with no
// Profile alive.
std::shared_ptr<const std::string> current_profile_label();

}  // namespace cxr
