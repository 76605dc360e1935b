// A flat float buffer on one device, shared by every tensor view of it.
#pragma once
#include <cstddef>
#include <string>

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

 private:
  float* data_ = nullptr;
  size_t count_ = 0;
  Device device_;
};

}  // namespace cxr
