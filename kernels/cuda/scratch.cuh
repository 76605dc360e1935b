// Device scratch for one operation's intermediate results (partial sums, a phase's gradient): taken
// from the caching allocator, and given back when it goes out of scope, once the kernels that use it
// are queued. Stream order makes the reuse by later work safe, also when a launch check throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {

template <class T>
class Scratch {
 public:
  Scratch(int64_t count, const std::string& what)
      : ptr_(static_cast<T*>(device_alloc(sizeof(T) * static_cast<size_t>(count), what))) {}
  ~Scratch() { device_free(ptr_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return ptr_; }

 private:
  T* ptr_;
};

}  // namespace cxr::kernels::cuda::detail
