// engine/profile.h: which row each forward and backward lands in, nesting, relabelling, and that
// nothing is recorded without a Profile.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/profile.h"

namespace cxr {
namespace {

const ProfileRow* row_of(const Profile& profile, const std::string& label) {
  for (const ProfileRow& row : profile.rows())
    if (row.label == label) return &row;
  return nullptr;
}

std::vector<std::string> labels_of(const Profile& profile) {
  std::vector<std::string> labels;
  for (const ProfileRow& row : profile.rows()) labels.push_back(row.label);
  return labels;
}

constexpr size_t kForward = 0, kBackward = 1, kOptimizer = 2;

TEST(Profile, RecordsNothingWithoutAProfile) {
  ASSERT_EQ(active_profile(), nullptr);
  Tensor x = Tensor::from_vector({3}, {1, 2, 3}).set_requires_grad(true);
  Tensor y;
  {
    const ProfileRegion region(ProfilePhase::Forward, "layer");
    EXPECT_EQ(current_profile_label(), nullptr);
    y = scale(x, 2.0f);
  }
  EXPECT_EQ(y.impl()->grad_fn->profile_label, nullptr);
  sum(y).backward();  // no Profile to add to: must not fail
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{2, 2, 2}));
}

TEST(Profile, EachBackwardLandsInTheRowOfTheRegionItsOpRanIn) {
  Profile profile(Device::cpu());
  Tensor x = Tensor::from_vector({4}, {1, -2, 3, -4}).set_requires_grad(true);
  Tensor a, b;
  {
    const ProfileRegion region(ProfilePhase::Forward, "first");
    a = scale(x, 3.0f);
  }
  {
    const ProfileRegion region(ProfilePhase::Forward, "second");
    b = relu(a);
  }
  Tensor loss = sum(b);  // in no region: its backward is its op's
  loss.backward();
  // First seen first: the two forwards, then the backward from the loss down.
  ASSERT_EQ(labels_of(profile), (std::vector<std::string>{"first", "second", "(sum)"}));
  const ProfileRow& first = *row_of(profile, "first");
  const ProfileRow& second = *row_of(profile, "second");
  const ProfileRow& loss_row = *row_of(profile, "(sum)");
  EXPECT_EQ(first.calls[kForward], 1);
  EXPECT_EQ(first.calls[kBackward], 1);
  EXPECT_EQ(second.calls[kForward], 1);
  EXPECT_EQ(second.calls[kBackward], 1);
  EXPECT_EQ(loss_row.calls[kForward], 0);
  EXPECT_EQ(loss_row.calls[kBackward], 1);
  for (const ProfileRow& row : profile.rows()) EXPECT_EQ(row.calls[kOptimizer], 0) << row.label;
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3, 0, 3, 0}));  // profiling changes no value
}

// Busy for at least `ms` milliseconds of wall time.
void spin_for(int ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
  }
}

TEST(Profile, AnInnerRegionIsARowOfItsOwnAndTheOuterKeepsItsOwnTime) {
  Profile profile(Device::cpu());
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor before, inside, after;
  const auto start = std::chrono::steady_clock::now();
  {
    const ProfileRegion outer(ProfilePhase::Forward, "resnet");
    before = scale(x, 2.0f);
    spin_for(10);
    {
      const ProfileRegion inner(ProfilePhase::Forward, "resnet/block1");
      inside = scale(before, 2.0f);
      spin_for(30);
    }
    ASSERT_NE(current_profile_label(), nullptr);
    EXPECT_EQ(*current_profile_label(), "resnet");
    after = scale(inside, 2.0f);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(current_profile_label(), nullptr);
  ASSERT_EQ(labels_of(profile), (std::vector<std::string>{"resnet/block1", "resnet"}));  // in the order they end
  const double outer_s = row_of(profile, "resnet")->seconds[kForward];
  const double inner_s = row_of(profile, "resnet/block1")->seconds[kForward];
  EXPECT_GE(inner_s, 0.030);
  EXPECT_GE(outer_s, 0.010);
  // Counted in both rows, the inner region's 30 ms would make the two more than the wall time.
  EXPECT_LE(outer_s + inner_s, wall) << "the outer row counted the inner region's time";
  ASSERT_NE(inside.impl()->grad_fn->profile_label, nullptr);
  EXPECT_EQ(*inside.impl()->grad_fn->profile_label, "resnet/block1");
  ASSERT_NE(after.impl()->grad_fn->profile_label, nullptr);
  EXPECT_EQ(*after.impl()->grad_fn->profile_label, "resnet");
}

TEST(Profile, RelabellingRenamesTheRowAndTheNodesAlreadyRecorded) {
  Profile profile(Device::cpu());
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor y;
  {
    ProfileRegion region(ProfilePhase::Forward, "batch_normalization");
    y = relu(scale(x, 2.0f));
    region.relabel("batch_normalization + activation");
  }
  sum(y).backward();
  const ProfileRow* fused = row_of(profile, "batch_normalization + activation");
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(row_of(profile, "batch_normalization"), nullptr);
  EXPECT_EQ(fused->calls[kForward], 1);
  EXPECT_EQ(fused->calls[kBackward], 2);  // relu's node and scale's
}

TEST(Profile, TimesAreTheRegionsWallTime) {
  Profile profile(Device::cpu());
  const auto start = std::chrono::steady_clock::now();
  {
    const ProfileRegion region(ProfilePhase::Optimizer, "update");
    spin_for(20);
  }
  const double outside = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const ProfileRow& row = *row_of(profile, "update");
  EXPECT_EQ(row.calls[kOptimizer], 1);
  EXPECT_GE(row.seconds[kOptimizer], 0.020);
  EXPECT_LE(row.seconds[kOptimizer], outside);
  EXPECT_EQ(row.seconds[kForward], 0.0);
  profile.clear();
  EXPECT_TRUE(profile.rows().empty());
}

TEST(Profile, AnExceptionInsideRegionsLeavesNoLabelBehind) {
  Profile profile(Device::cpu());
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  try {
    const ProfileRegion outer(ProfilePhase::Forward, "model");
    const ProfileRegion inner(ProfilePhase::Forward, "layer");
    throw InputError("a bad batch");
  } catch (const InputError&) {
  }
  EXPECT_EQ(current_profile_label(), nullptr);
  EXPECT_EQ(scale(x, 2.0f).impl()->grad_fn->profile_label, nullptr);  // recorded outside every region
  ASSERT_EQ(labels_of(profile), (std::vector<std::string>{"layer", "model"}));
}

TEST(Profile, ARegionOutlivingItsProfileAddsToNoneAndClearsItsLabel) {
  auto profile = std::make_unique<Profile>(Device::cpu());
  {
    const ProfileRegion region(ProfilePhase::Forward, "layer");
    profile.reset();  // region ends after: it must not touch the freed Profile (ASan run: tools/test --sanitize)
    Profile next(Device::cpu());
  }
  EXPECT_EQ(current_profile_label(), nullptr);
  EXPECT_EQ(active_profile(), nullptr);
}

TEST(Profile, OnlyOneAtATime) {
  Profile profile(Device::cpu());
  EXPECT_EQ(active_profile(), &profile);
  EXPECT_THROW(Profile(Device::cpu()), std::exception);
  EXPECT_EQ(active_profile(), &profile);
}

}  // namespace
}  // namespace cxr
