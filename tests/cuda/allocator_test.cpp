// The caching allocator: steady state makes no cudaMalloc, out-of-memory names the tensor.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/block_size.h"
#include "kernels/cuda/runtime.h"
#include "tests/cuda/gpu_test.h"

namespace cxr::test {
namespace {

namespace cuda = kernels::cuda;

class CachingAllocator : public GpuTest {};

// Sizes of one experiment-1 training step's tensors (batch 32): a bias, BN statistics, the three
// conv activations, the Dense kernel, and a 16M-float buffer.
const std::vector<size_t> kStepSizes = {64, 256, 4 * 32 * 46 * 46 * 16, 4 * 32 * 21 * 21 * 32, 4 * 32 * 9 * 9 * 64,
                                        4 * 1024 * 64, 4 * (size_t{1} << 24)};

TEST_F(CachingAllocator, SteadyStateMakesNoCudaMalloc) {
  auto step = [] {
    std::vector<void*> blocks;
    for (size_t bytes : kStepSizes) blocks.push_back(cuda::device_alloc(bytes, "step tensor"));
    for (void* p : blocks) cuda::device_free(p);
  };
  step();  // warm-up fills the cache
  const cuda::AllocatorStats warm = cuda::allocator_stats();
  for (int i = 0; i < 100; ++i) step();
  const cuda::AllocatorStats after = cuda::allocator_stats();
  EXPECT_EQ(after.cuda_malloc_calls, warm.cuda_malloc_calls);
  EXPECT_EQ(after.cuda_free_calls, warm.cuda_free_calls);
  EXPECT_EQ(after.bytes_in_use, warm.bytes_in_use);
  EXPECT_EQ(after.bytes_cached, warm.bytes_cached);
}

TEST_F(CachingAllocator, CountsRoundedBlocks) {
  const cuda::AllocatorStats before = cuda::allocator_stats();
  void* p = cuda::device_alloc(1000, "thousand bytes");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u) << "cudaMalloc alignment";
  EXPECT_EQ(cuda::allocator_stats().bytes_in_use, before.bytes_in_use + cuda::round_block_size(1000));
  cuda::device_free(p);
  EXPECT_EQ(cuda::allocator_stats().bytes_in_use, before.bytes_in_use);
}

// The peaks bench_e2e reports: the most in use at once since the last reset, in whole blocks and in
// the bytes asked for; cached blocks not counted.
TEST_F(CachingAllocator, PeakIsTheMostInUseSinceTheReset) {
  cuda::reset_peak_bytes_in_use();
  const cuda::AllocatorStats base = cuda::allocator_stats();
  EXPECT_EQ(base.peak_bytes_in_use, base.bytes_in_use);
  EXPECT_EQ(base.peak_requested_bytes_in_use, base.requested_bytes_in_use);
  const size_t big = (3 << 20) + 12345, small = 1 << 20;
  void* a = cuda::device_alloc(big, "a");
  void* b = cuda::device_alloc(small, "b");
  cuda::device_free(a);
  void* c = cuda::device_alloc(1000, "c");
  cuda::device_free(b);
  cuda::device_free(c);
  const cuda::AllocatorStats after = cuda::allocator_stats();
  EXPECT_EQ(after.peak_bytes_in_use, base.bytes_in_use + cuda::round_block_size(big) + cuda::round_block_size(small));
  EXPECT_EQ(after.peak_requested_bytes_in_use, base.requested_bytes_in_use + big + small);
  EXPECT_EQ(after.requested_bytes_in_use, base.requested_bytes_in_use);
  cuda::reset_peak_bytes_in_use();
  EXPECT_EQ(cuda::allocator_stats().peak_bytes_in_use, base.bytes_in_use);
  EXPECT_EQ(cuda::allocator_stats().peak_requested_bytes_in_use, base.requested_bytes_in_use);
}

TEST_F(CachingAllocator, FreedBlockIsReused) {
  void* a = cuda::device_alloc(3 << 20, "a");
  cuda::device_free(a);
  void* b = cuda::device_alloc((3 << 20) - 100, "b");  // same size class
  EXPECT_EQ(a, b);
  cuda::device_free(b);
}

TEST_F(CachingAllocator, EmptyCacheReleasesEverything) {
  cuda::device_free(cuda::device_alloc(5 << 20, "to be released"));
  ASSERT_GT(cuda::allocator_stats().bytes_cached, 0u);
  const size_t frees = cuda::allocator_stats().cuda_free_calls;
  cuda::empty_cache();
  EXPECT_EQ(cuda::allocator_stats().bytes_cached, 0u);
  EXPECT_GT(cuda::allocator_stats().cuda_free_calls, frees);
}

TEST_F(CachingAllocator, ImpossibleAllocationNamesTheTensor) {
  const size_t petabyte = size_t{1} << 50;
  try {
    cuda::device_alloc(petabyte, "dense_10.kernel");
    FAIL() << "a petabyte allocation succeeded";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("dense_10.kernel"), std::string::npos) << message;
    EXPECT_NE(message.find("out of memory"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(petabyte)), std::string::npos) << message;
    EXPECT_NE(message.find("free of"), std::string::npos) << message;
  }
  // The failure must not leave an error behind for the next checked call.
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
  void* p = cuda::device_alloc(1024, "after the failure");
  EXPECT_NE(p, nullptr);
  cuda::device_free(p);
}

TEST_F(CachingAllocator, ForeignPointerIsRefused) {
  int not_a_block = 0;
  EXPECT_THROW(cuda::device_free(&not_a_block), std::invalid_argument);
}

}  // namespace
}  // namespace cxr::test
