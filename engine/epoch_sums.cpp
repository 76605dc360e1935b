#include "engine/epoch_sums.h"

#include <sstream>

#include "engine/error.h"
#include "engine/kernel_choice.h"
#include "kernels/loss.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/vendor.h"
#endif

namespace cxr {
namespace {
struct DeviceSums {
  double loss_sum;
  unsigned long long correct;
};
}  // namespace

EpochSums::EpochSums(Device device) : device_(device) {
  if (device_.is_cpu()) return;
#ifdef CXR_WITH_CUDA
  device_sums_ = kernels::cuda::device_alloc(sizeof(DeviceSums), "epoch loss and accuracy sums");
  const DeviceSums zero{0.0, 0};
  kernels::cuda::copy_host_to_device(device_sums_, &zero, sizeof(zero));  // pageable: `zero` may go at once
#else
  throw InputError("this cxrnet was built without CUDA");
#endif
}

EpochSums::~EpochSums() {
#ifdef CXR_WITH_CUDA
  if (device_sums_) kernels::cuda::device_free(device_sums_);
#endif
}

void EpochSums::add(const Tensor& loss, const Tensor& logits, const Tensor& labels, int count) {
  CXR_CHECK(loss.numel() == 1 && logits.numel() == labels.numel(),
            "epoch sums: loss " << loss.describe() << ", logits " << logits.describe() << ", labels "
                                << labels.describe());
  if (device_.is_cpu()) {
    loss_sum_ += static_cast<double>(loss.item()) * count;
    correct_ += kernels::cpu::binary_accuracy_count(logits.numel(), logits.data(), labels.data());
    return;
  }
#ifdef CXR_WITH_CUDA
  auto* sums = static_cast<DeviceSums*>(device_sums_);
  kernels::cuda::accumulate_weighted(loss.data(), static_cast<double>(count), &sums->loss_sum);
  kernels::cuda::binary_accuracy_count(logits.numel(), logits.data(), labels.data(), &sums->correct);
#endif
}

void EpochSums::read() const {
#ifdef CXR_WITH_CUDA
  if (device_.is_cpu()) return;
  DeviceSums host{};
  kernels::cuda::copy_device_to_host(&host, device_sums_, sizeof(host));
  loss_sum_ = host.loss_sum;
  correct_ = static_cast<int64_t>(host.correct);
#endif
}

double EpochSums::loss_sum() const {
  read();
  return loss_sum_;
}

int64_t EpochSums::correct() const {
  read();
  return correct_;
}

std::string gpu_run_report(Device device) {
  if (device.is_cpu()) return "";
  std::ostringstream out;
#ifdef CXR_WITH_CUDA
  const kernels::vendor::VendorSettings v = kernels::vendor::settings();
  out << kernels::cuda::device_report() << "\nkernels: " << kernel_choice_name(current_kernel_choice())
      << " (per-layer `kernels:` keys may override); vendor math: " << (v.allow_tf32 ? "TF32 allowed" : "plain FP32")
      << (v.deterministic ? ", deterministic cuDNN algorithms" : "") << ", cuDNN workspace cap "
      << (v.workspace_cap_bytes >> 20) << " MiB\n";
#endif
  return out.str();
}

}  // namespace cxr
