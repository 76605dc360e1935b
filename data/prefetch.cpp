#include "data/prefetch.h"

#include <stdexcept>

namespace cxr::data {

BatchPrefetcher::BatchPrefetcher(int count, int slots, std::function<void(int, int)> produce)
    : count_(count), slots_(slots), produce_(std::move(produce)) {
  if (slots < 1) throw std::invalid_argument("BatchPrefetcher needs at least one slot");
  worker_ = std::thread([this] { run(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void BatchPrefetcher::run() {
  for (int k = 0; k < count_; ++k) {
    {
      // Slot k % slots last held batch k - slots, which is free once batch k - slots + 1 was asked for.
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || k < requested_ + slots_ - 1; });
      if (stop_) return;
    }
    try {
      produce_(k, k % slots_);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      changed_.notify_all();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      produced_ = k + 1;
    }
    changed_.notify_all();
  }
}

int BatchPrefetcher::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (requested_ >= count_) throw std::out_of_range("BatchPrefetcher::next called after the last batch");
  const int k = requested_++;
  changed_.notify_all();  // the previous slot is free now
  changed_.wait(lock, [&] { return produced_ > k || error_; });
  if (produced_ <= k) std::rethrow_exception(error_);
  return k % slots_;
}

}  // namespace cxr::data
