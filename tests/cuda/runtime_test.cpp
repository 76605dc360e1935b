// kernels/cuda/runtime.h: device discovery (also on machines without a GPU), device selection, the
// report, the stream and copies.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/runtime.h"
#include "tests/cuda/gpu_test.h"

namespace cxr::test {
namespace {

namespace cuda = kernels::cuda;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs everywhere: this is what lets one binary serve GPU and CPU-only machines.
TEST(CudaRuntime, DeviceCountNeverThrows) {
  int count = -1;
  EXPECT_NO_THROW(count = cuda::device_count());
  EXPECT_GE(count, 0);
  EXPECT_EQ(cuda::available(), count > 0);
  EXPECT_EQ(cuda::device_count(), count) << "the answer must not change within a process";
}

TEST(CudaRuntime, ReportAlwaysNamesTheLibraries) {
  std::string report;
  ASSERT_NO_THROW(report = cuda::device_report());
  EXPECT_TRUE(contains(report, "CUDA devices:")) << report;
  EXPECT_TRUE(contains(report, "CUDA runtime")) << report;
  EXPECT_TRUE(contains(report, "cuDNN 9.")) << report;
  EXPECT_TRUE(contains(report, "cuBLAS")) << report;
}

TEST(CudaRuntime, EmptyRequestsNeedNoDevice) {
  EXPECT_EQ(cuda::device_alloc(0, "empty"), nullptr);
  EXPECT_NO_THROW(cuda::device_free(nullptr));
  EXPECT_EQ(cuda::pinned_host_alloc(0), nullptr);
  EXPECT_NO_THROW(cuda::pinned_host_free(nullptr));
  EXPECT_NO_THROW(cuda::copy_host_to_device(nullptr, nullptr, 0));
  EXPECT_NO_THROW(cuda::copy_device_to_host(nullptr, nullptr, 0));
  EXPECT_NO_THROW(cuda::copy_device_to_device(nullptr, nullptr, 0));
}

// Without a GPU, everything that needs one fails with a message that says so.
TEST(CudaRuntimeWithoutGpu, CallsThatNeedAGpuExplainWhy) {
  if (cuda::available()) GTEST_SKIP() << "this machine has a GPU";
  EXPECT_EQ(cuda::device_count(), 0);
  EXPECT_TRUE(contains(cuda::device_report(), "CUDA devices: none"));
  auto expect_message = [](auto call, const std::string& part) {
    try {
      call();
      ADD_FAILURE() << "no exception";
    } catch (const std::exception& e) {
      EXPECT_TRUE(contains(e.what(), part)) << e.what();
      EXPECT_TRUE(contains(e.what(), "no CUDA device")) << e.what();
    }
  };
  expect_message([] { cuda::set_device(0); }, "set_device(0)");
  expect_message([] { cuda::stream(); }, "stream()");
  expect_message([] { cuda::device_alloc(64, "conv1.kernel"); }, "conv1.kernel");
  expect_message([] { cuda::pinned_host_alloc(64); }, "pinned_host_alloc");
  expect_message([] { cuda::total_memory(0); }, "total_memory(0)");
  EXPECT_NO_THROW(cuda::synchronize());
  const cuda::AllocatorStats stats = cuda::allocator_stats();
  EXPECT_EQ(stats.cuda_malloc_calls, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
}

class CudaRuntimeOnGpu : public GpuTest {};

TEST_F(CudaRuntimeOnGpu, ReportDescribesTheDevice) {
  const std::string report = cuda::device_report();
  EXPECT_TRUE(contains(report, "GPU 0: ")) << report;
  EXPECT_TRUE(contains(report, "compute capability")) << report;
  EXPECT_TRUE(contains(report, "SMs")) << report;
  EXPECT_FALSE(contains(report, "driver none")) << report;
  std::cout << report << "\n";  // the card in the test log
}

TEST_F(CudaRuntimeOnGpu, SetDeviceChecksTheRange) {
  EXPECT_NO_THROW(cuda::set_device(0));
  EXPECT_THROW(cuda::set_device(-1), std::out_of_range);
  try {
    cuda::set_device(cuda::device_count());
    ADD_FAILURE() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_TRUE(contains(e.what(), "out of range")) << e.what();
  }
  cuda::set_device(0);
}

// What the size check before training compares a model with (layers/size_limits.h): the card's
// memory (within 1% of cudaMemGetInfo's total, which may leave out what the driver keeps), and a
// range error past the last device.
TEST_F(CudaRuntimeOnGpu, TotalMemoryIsTheCards) {
  size_t free_bytes = 0, total_bytes = 0;
  cuda::set_device(0);
  ASSERT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess);
  const double total = static_cast<double>(cuda::total_memory(0));
  EXPECT_GE(total, 0.99 * static_cast<double>(total_bytes));
  EXPECT_LE(total, 1.01 * static_cast<double>(total_bytes));
  EXPECT_GE(total, 1024.0 * 1024 * 1024);
  EXPECT_THROW(cuda::total_memory(cuda::device_count()), std::out_of_range);
}

TEST_F(CudaRuntimeOnGpu, OneStreamPerDevice) {
  EXPECT_NE(cuda::stream(), nullptr);
  EXPECT_EQ(cuda::stream(), cuda::stream());
}

TEST_F(CudaRuntimeOnGpu, CopiesRoundTrip) {
  const std::vector<float> host = random_floats(12345, 3);
  DeviceFloats a(host), b(static_cast<int64_t>(host.size()));
  cuda::copy_device_to_device(b.get(), a.get(), a.bytes());
  EXPECT_EQ(b.to_host(), host);
}

TEST_F(CudaRuntimeOnGpu, PinnedMemoryRoundTrip) {
  const std::vector<float> host = random_floats(4096, 4);
  const size_t bytes = host.size() * sizeof(float);
  auto* pinned = static_cast<float*>(cuda::pinned_host_alloc(bytes));
  ASSERT_NE(pinned, nullptr);
  std::memcpy(pinned, host.data(), bytes);
  DeviceFloats d(static_cast<int64_t>(host.size()));
  cuda::copy_host_to_device(d.get(), pinned, bytes);
  std::memset(pinned, 0, bytes);  // unsafe before the copy ran: wait for it first
  cuda::synchronize();
  cuda::copy_device_to_host(pinned, d.get(), bytes);
  EXPECT_EQ(std::memcmp(pinned, host.data(), bytes), 0);
  cuda::pinned_host_free(pinned);
}

}  // namespace
}  // namespace cxr::test
