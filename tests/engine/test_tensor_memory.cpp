// CPU tensor memory (engine/storage.h's cpu_tensor_bytes): every Storage counted in the 64-byte
// blocks it allocates, views free, and the peak the most held at once since the last reset, which
// bench_e2e reports as a training step's memory.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "engine/storage.h"
#include "engine/tensor.h"

namespace cxr {
namespace {

TEST(CpuTensorBytes, CountsEveryStorageAndThePeakSinceTheReset) {
  reset_cpu_tensor_peak();
  const TensorBytes start = cpu_tensor_bytes();
  EXPECT_EQ(start.peak, start.in_use);
  {
    const Tensor a = Tensor::zeros({1000});  // 4,000 bytes: 63 blocks of 64
    const Tensor b = Tensor::zeros({16});    // one block
    const Tensor view = a.detach();          // shares a's storage
    EXPECT_EQ(cpu_tensor_bytes().in_use, start.in_use + 4032 + 64);
  }
  EXPECT_EQ(cpu_tensor_bytes().in_use, start.in_use);
  { const Tensor c = Tensor::zeros({100}); }  // 448 bytes, less than the peak so far
  EXPECT_EQ(cpu_tensor_bytes().peak, start.in_use + 4096);
  reset_cpu_tensor_peak();
  EXPECT_EQ(cpu_tensor_bytes().peak, start.in_use);
}

// Tensors made and dropped on several threads at once (the data pipeline's workers make tensors):
// nothing lost, and the peak at least what one thread held at once.
TEST(CpuTensorBytes, ThreadsCountTogether) {
  const TensorBytes start = cpu_tensor_bytes();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([] {
      for (int i = 0; i < 2000; ++i) {
        const Tensor x = Tensor::empty({64});
        const Tensor y = Tensor::empty({16 * (i % 7 + 1)});
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(cpu_tensor_bytes().in_use, start.in_use);
  EXPECT_GE(cpu_tensor_bytes().peak, start.in_use + 256 + 448);
}

}  // namespace
}  // namespace cxr
