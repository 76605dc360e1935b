// BatchPrefetcher: batches arrive in order, a slot is never refilled while in use, the worker runs
// ahead by one batch, and a producer's exception reaches the consumer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "data/prefetch.h"

namespace cxr::data {
namespace {

TEST(BatchPrefetcher, InOrderIntoRotatingSlots) {
  std::vector<int> slot_value(2, -1);
  BatchPrefetcher prefetch(7, 2, [&](int k, int slot) { slot_value[static_cast<size_t>(slot)] = 100 + k; });
  for (int k = 0; k < 7; ++k) {
    const int slot = prefetch.next();
    EXPECT_EQ(slot, k % 2);
    // Hold the slot a moment: the worker may fill the other slot meanwhile, never this one.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(slot_value[static_cast<size_t>(slot)], 100 + k);
  }
  EXPECT_THROW(prefetch.next(), std::out_of_range);
}

TEST(BatchPrefetcher, PreparesTheNextBatchWhileTheCurrentOneIsUsed) {
  std::atomic<int> produced{0};
  BatchPrefetcher prefetch(3, 2, [&](int, int) { ++produced; });
  prefetch.next();  // batch 0 in use: batch 1 may now be made, batch 2 not (its slot is busy)
  for (int i = 0; i < 200 && produced < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(produced, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(produced, 2);
  prefetch.next();
  prefetch.next();
  EXPECT_EQ(produced, 3);
}

TEST(BatchPrefetcher, ProducerErrorsReachTheConsumer) {
  BatchPrefetcher prefetch(4, 2, [&](int k, int) {
    if (k == 1) throw std::runtime_error("bad batch 1");
  });
  EXPECT_EQ(prefetch.next(), 0);
  EXPECT_THROW(prefetch.next(), std::runtime_error);
}

TEST(BatchPrefetcher, StopsCleanlyWhenTheConsumerLeavesEarly) {
  std::atomic<int> produced{0};
  {
    BatchPrefetcher prefetch(1000, 2, [&](int, int) { ++produced; });
    prefetch.next();
  }  // the destructor must not wait for 1000 batches
  EXPECT_LE(produced, 2);
}

}  // namespace
}  // namespace cxr::data
