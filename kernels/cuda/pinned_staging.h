// A page-locked host buffer for uploads that overlap with compute, with an event that says when the
// device has finished reading it.
//
// Why the event: a host-to-device copy from pinned memory is only queued on stream(); the DMA engine
// reads the buffer later, when the stream gets there, and the stream may run well behind the host
// (a training step never waits for the device). Refilling the buffer before then would corrupt the
// batch being uploaded, so a writer calls wait_until_free() first. It may do so from another thread
// (a prefetch worker): CUDA events may be waited on from any thread.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace cxr::kernels::cuda {

class PinnedStaging {
 public:
  PinnedStaging(int device, size_t bytes);  // `bytes` of pinned memory and an event on `device`
  ~PinnedStaging();                         // waits for the uploads still reading the buffer, then frees it
  PinnedStaging(const PinnedStaging&) = delete;
  PinnedStaging& operator=(const PinnedStaging&) = delete;

  void* host() const { return host_; }
  size_t bytes() const { return bytes_; }

  // Blocks the calling thread until every upload queued from this buffer so far has been read.
  void wait_until_free() const;

  // Queues a copy of host()[offset, offset + bytes) to device_dst on stream() and records the event
  // behind it. Call on the thread (and current device) that queues the work reading device_dst.
  void upload(void* device_dst, size_t offset, size_t bytes);

 private:
  void* host_ = nullptr;
  size_t bytes_ = 0;
  cudaEvent_t uploaded_ = nullptr;
};

}  // namespace cxr::kernels::cuda
