// Where a tensor lives. Ops refuse mixed devices; Tensor::to() copies between them.
#pragma once
#include <cstdint>
#include <string>

namespace cxr {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  static Device parse(const std::string& text);  // "cpu", "cuda", "cuda:1"

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;
  bool operator==(const Device&) const = default;
};

// True when this build has the CUDA backend and a GPU is present (any CUDA error counts as none).
bool cuda_available();

// The memory a device's tensors live in, in bytes: the machine's RAM for the CPU, the GPU's own
// memory for a CUDA device (which must exist: InputError otherwise).
uint64_t memory_bytes(Device device);

}  // namespace cxr
