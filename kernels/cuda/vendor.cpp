// Vendor settings, handles and the algorithm log (kernels/cuda/vendor.h, vendor_handles.h).
#include "kernels/cuda/vendor.h"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/current_device.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/vendor_handles.h"

namespace cxr::kernels {
namespace {

bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::strcmp(value, "1") == 0;
}

vendor::VendorSettings settings_from_environment() {
  vendor::VendorSettings s;
  s.allow_tf32 = env_flag("CXR_TF32");
  s.deterministic = env_flag("CXR_CUDNN_DETERMINISTIC");
  if (const char* mb = std::getenv("CXR_CUDNN_WORKSPACE_MB")) s.workspace_cap_bytes = std::strtoull(mb, nullptr, 10) << 20;
  return s;
}

struct VendorState {
  std::mutex mutex;
  vendor::VendorSettings settings = settings_from_environment();
  std::map<int, cudnnHandle_t> cudnn;
  std::map<int, cublasHandle_t> cublas;
  std::string algorithm_log;
};

VendorState& state() {
  static auto* instance = new VendorState;  // never destroyed, like the streams
  return *instance;
}

// cuBLAS's own workspace, from our allocator: sized once per handle, so steady-state GEMMs allocate
// nothing and a captured graph does not see cuBLAS allocate. 32 MiB is NVIDIA's advice for Hopper.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

}  // namespace

namespace vendor {

VendorSettings settings() {
  std::lock_guard lock(state().mutex);
  return state().settings;
}

void set_settings(const VendorSettings& settings) {
  {
    std::lock_guard lock(state().mutex);
    state().settings = settings;
  }
  cuda::detail::clear_conv_algorithm_cache();
}

std::string conv_algorithm_report() {
  std::lock_guard lock(state().mutex);
  return state().algorithm_log;
}

}  // namespace vendor

namespace cuda::detail {

cudnnHandle_t cudnn_handle() {
  const int device = current_device("cuDNN handle");
  const cudaStream_t s = stream();
  std::lock_guard lock(state().mutex);
  cudnnHandle_t& handle = state().cudnn[device];
  if (handle == nullptr) {
    CXR_CUDNN_CHECK(cudnnCreate(&handle));
    CXR_CUDNN_CHECK(cudnnSetStream(handle, s));
  }
  return handle;
}

cublasHandle_t cublas_handle() {
  const int device = current_device("cuBLAS handle");
  const cudaStream_t s = stream();
  std::lock_guard lock(state().mutex);
  cublasHandle_t& handle = state().cublas[device];
  if (handle == nullptr) {
    CXR_CUBLAS_CHECK(cublasCreate(&handle));
    CXR_CUBLAS_CHECK(cublasSetStream(handle, s));
    void* workspace = device_alloc(kCublasWorkspaceBytes, "cuBLAS workspace");  // held for the process
    CXR_CUBLAS_CHECK(cublasSetWorkspace(handle, workspace, kCublasWorkspaceBytes));
  }
  return handle;
}

void log_vendor_choice(const std::string& line) {
  {
    std::lock_guard lock(state().mutex);
    state().algorithm_log += line + "\n";
  }
  std::clog << line << std::endl;
}

}  // namespace cuda::detail
}  // namespace cxr::kernels
