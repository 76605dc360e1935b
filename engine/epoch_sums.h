// The running sums of a training or evaluation epoch: the loss weighted by batch size (Keras's
// sample-weighted mean) and the number of correct predictions (binary_accuracy: sigmoid(z) > 0.5).
//
// On CUDA both stay on the device, added by tiny kernels queued after each step, and are read once,
// when asked for: a training step never waits for the GPU (and could be captured as a CUDA graph).
// On the CPU they are plain numbers.
#pragma once
#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace cxr {

class EpochSums {
 public:
  explicit EpochSums(Device device);
  ~EpochSums();
  EpochSums(const EpochSums&) = delete;
  EpochSums& operator=(const EpochSums&) = delete;

  // loss: the batch's mean loss (one element); logits and labels: the batch's, `count` samples.
  void add(const Tensor& loss, const Tensor& logits, const Tensor& labels, int count);
  double loss_sum() const;  // CUDA: copies the sums back (waits for the queued steps)
  int64_t correct() const;

 private:
  void read() const;
  Device device_;
  void* device_sums_ = nullptr;  // CUDA: {double loss_sum; unsigned long long correct}
  mutable double loss_sum_ = 0;
  mutable int64_t correct_ = 0;
};

// For the log of a GPU run: the CUDA, cuDNN and cuBLAS versions, the devices, the kernel choice and
// the vendor math settings. "" for the CPU.
std::string gpu_run_report(Device device);

}  // namespace cxr
