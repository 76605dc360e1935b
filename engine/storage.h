// A flat float buffer on one device, shared by every tensor view of it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"

namespace cxr {

class Storage {
 public:
  // `what` names the tensor, so an out-of-memory error can say which allocation failed.
  Storage(size_t count, Device device, const std::string& what);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return count_; }
  Device device() const { return device_; }

  // How many writable pointers to the contents were handed out (Tensor::data(), the non-const one,
  // the only way to one): a copy derived from the contents is stale once this has moved on.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void mark_written() { version_.fetch_add(1, std::memory_order_relaxed); }

  // The contents in another layout, as made at `version` for `key` (engine/ops/conv2d.cpp keeps the
  // CPU convolution's packed weights here for weights that do not train).
  struct Derived {
    std::shared_ptr<Storage> data;
    uint64_t version = 0;
    std::vector<int64_t> key;
  };
  Derived& derived() { return derived_; }

 private:
  float* data_ = nullptr;
  size_t count_ = 0;
  Device device_;
  std::atomic<uint64_t> version_{0};
  Derived derived_;
};

// CPU tensor memory: the bytes every CPU Storage holds now (in 64-byte blocks), and the most they
// held at once since the last reset_cpu_tensor_peak(). Over a training step the peak is what its
// tensors need: weights, Adam's moments, the activations kept for the backward pass, the gradients
// (bench_e2e reports it). Not counted: the CPU kernels' own scratch (im2col columns, the weight
// gradient's partial sums) and dropout's keep-masks (a byte an element). GPU memory is counted by the
// caching allocator (kernels::cuda::allocator_stats()), workspaces included.
struct TensorBytes {
  int64_t in_use = 0, peak = 0;
};
TensorBytes cpu_tensor_bytes();
void reset_cpu_tensor_peak();  // the peak starts again from what is held now

}  // namespace cxr
