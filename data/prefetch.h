// A background worker that prepares batches ahead of the training step: while the model trains on
// batch k, batch k+1 is augmented and assembled into another buffer.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace cxr::data {

class BatchPrefetcher {
 public:
  // Calls produce(k, slot) on a background thread for k = 0 .. count-1 in order; slot = k % slots
  // names the caller's buffer to fill. Batch k is only produced once the consumer has asked for
  // batch k - slots + 1, so a slot is never refilled while the consumer still uses it.
  BatchPrefetcher(int count, int slots, std::function<void(int k, int slot)> produce);
  ~BatchPrefetcher();  // stops the worker (after the batch it is filling) and joins it
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch in order: waits until it is filled and returns its slot. Calling it declares
  // the previous batch's slot free. Rethrows an exception thrown by produce.
  int next();

 private:
  void run();

  const int count_, slots_;
  std::function<void(int, int)> produce_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int produced_ = 0, requested_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;  // last: started once everything above is initialised
};

}  // namespace cxr::data
