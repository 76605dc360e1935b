// The allocator's size classes (kernels/cuda/block_size.h): pure arithmetic, runs on any machine.
#include "kernels/cuda/block_size.h"

#include <gtest/gtest.h>

namespace cxr::kernels::cuda {
namespace {

constexpr size_t MiB = size_t{1} << 20;

TEST(BlockSize, SmallRequestsRoundTo512Bytes) {
  EXPECT_EQ(round_block_size(0), 512u);
  EXPECT_EQ(round_block_size(1), 512u);
  EXPECT_EQ(round_block_size(512), 512u);
  EXPECT_EQ(round_block_size(513), 1024u);
  EXPECT_EQ(round_block_size(MiB), MiB);
}

TEST(BlockSize, LargeRequestsUseFourClassesPerOctave) {
  EXPECT_EQ(round_block_size(MiB + 1), MiB + MiB / 4);
  EXPECT_EQ(round_block_size(2 * MiB), 2 * MiB);
  EXPECT_EQ(round_block_size(2 * MiB + 1), 2 * MiB + MiB / 2);
  EXPECT_EQ(round_block_size(64 * MiB), 64 * MiB);
  EXPECT_EQ(round_block_size(65 * MiB), 80 * MiB);
}

TEST(BlockSize, NeverSmallerAndAtMostAQuarterOfSlack) {
  for (size_t bytes = 1; bytes < (size_t{1} << 40); bytes = bytes * 3 / 2 + 7) {
    const size_t block = round_block_size(bytes);
    EXPECT_GE(block, bytes);
    if (bytes > MiB) {
      EXPECT_LE(block - bytes, bytes / 4) << bytes;
    }
    EXPECT_EQ(round_block_size(block), block) << "a block size is its own class";
  }
}

}  // namespace
}  // namespace cxr::kernels::cuda
