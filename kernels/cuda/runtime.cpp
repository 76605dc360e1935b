// Device discovery, the per-device stream, copies and the device report (kernels/cuda/runtime.h).
#include "kernels/cuda/runtime.h"

#include <cstdio>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/current_device.h"
#include "kernels/cuda/launch.h"

namespace cxr::kernels::cuda {
namespace {

struct Probe {
  int count = 0;
  std::string reason;  // why there is no GPU, for messages
};

// Probed once: with no driver every CUDA call fails the same way, and the answer cannot change.
const Probe& probe() {
  static const Probe result = [] {
    Probe p;
    const cudaError_t status = cudaGetDeviceCount(&p.count);
    if (status != cudaSuccess) {
      p.count = 0;
      p.reason = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
      (void)cudaGetLastError();  // clear it where it is not sticky, so later checks do not see it
    } else if (p.count <= 0) {
      p.count = 0;
      p.reason = "the CUDA driver reports no device";
    }
    return p;
  }();
  return result;
}

// What we keep per device, created on first use and never destroyed: the stream must outlive every
// static object that might still queue work or free memory during exit.
struct DeviceState {
  cudaStream_t stream = nullptr;
  int multiprocessors = 0;
  int max_threads_per_multiprocessor = 0;
};

std::mutex& state_mutex() {
  static auto* mutex = new std::mutex;
  return *mutex;
}

DeviceState& device_state(int device) {  // call with state_mutex() held
  static auto* states = new std::vector<DeviceState>(static_cast<size_t>(device_count()));
  return (*states)[static_cast<size_t>(device)];
}

std::string version_string(int version) {  // CUDA's 13000 -> "13.0"
  if (version <= 0) return "none";
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

std::string library_versions() {
  std::ostringstream out;
  int runtime = 0, driver = 0;
  if (cudaRuntimeGetVersion(&runtime) != cudaSuccess || runtime == 0) runtime = CUDART_VERSION;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  (void)cudaGetLastError();
  const size_t cudnn = cudnnGetVersion();  // 91900 -> 9.19.0
  int blas_major = 0, blas_minor = 0, blas_patch = 0;
  cublasGetProperty(MAJOR_VERSION, &blas_major);
  cublasGetProperty(MINOR_VERSION, &blas_minor);
  cublasGetProperty(PATCH_LEVEL, &blas_patch);
  out << "CUDA runtime " << version_string(runtime) << ", driver " << version_string(driver) << "; cuDNN "
      << cudnn / 10000 << '.' << cudnn % 10000 / 100 << '.' << cudnn % 100 << " (built with " << CUDNN_MAJOR << '.'
      << CUDNN_MINOR << '.' << CUDNN_PATCHLEVEL << "); cuBLAS " << blas_major << '.' << blas_minor << '.'
      << blas_patch;
  return out.str();
}

}  // namespace

namespace detail {

int current_device(const char* caller) {
  if (!available()) throw std::runtime_error(std::string(caller) + ": no CUDA device (" + probe().reason + ")");
  int device = 0;
  CXR_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

std::string format_bytes(size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 6) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.2f %s", value, units[unit]);
  return text;
}

int grid_size(int64_t items, int block_threads) {
  const int device = current_device("cxr::kernels::cuda grid_size");
  int resident_blocks = 0;
  {
    std::lock_guard lock(state_mutex());
    DeviceState& state = device_state(device);
    if (state.multiprocessors == 0) {
      CXR_CUDA_CHECK(cudaDeviceGetAttribute(&state.multiprocessors, cudaDevAttrMultiProcessorCount, device));
      CXR_CUDA_CHECK(cudaDeviceGetAttribute(&state.max_threads_per_multiprocessor,
                                            cudaDevAttrMaxThreadsPerMultiProcessor, device));
    }
    resident_blocks = state.multiprocessors * (state.max_threads_per_multiprocessor / block_threads);
  }
  const int64_t wanted = (items + block_threads - 1) / block_threads;
  if (wanted < 1) return 1;
  return wanted < resident_blocks ? static_cast<int>(wanted) : resident_blocks;
}

}  // namespace detail

int device_count() { return probe().count; }

bool available() { return device_count() > 0; }

namespace {

// std::runtime_error without a GPU, std::out_of_range past the last one, naming the caller.
void check_device_index(const char* caller, int index) {
  const int count = device_count();
  const std::string call = std::string("cxr::kernels::cuda::") + caller + "(" + std::to_string(index) + ")";
  if (count == 0) throw std::runtime_error(call + ": no CUDA device (" + probe().reason + ")");
  if (index < 0 || index >= count)
    throw std::out_of_range(call + ": device index out of range; this machine has " + std::to_string(count) +
                            " CUDA device(s), numbered 0 to " + std::to_string(count - 1));
}

}  // namespace

void set_device(int index) {
  check_device_index("set_device", index);
  CXR_CUDA_CHECK(cudaSetDevice(index));
}

size_t total_memory(int index) {
  check_device_index("total_memory", index);  // the current device stays as it was
  cudaDeviceProp prop{};
  CXR_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return prop.totalGlobalMem;
}

std::string device_report() {
  std::ostringstream out;
  const int count = device_count();
  if (count == 0) {
    out << "CUDA devices: none (" << probe().reason << ")\n" << library_versions();
    return out.str();
  }
  int current = 0;
  CXR_CUDA_CHECK(cudaGetDevice(&current));
  out << "CUDA devices: " << count << " (current: " << current << ")\n";
  for (int device = 0; device < count; ++device) {
    cudaDeviceProp prop{};
    CXR_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    out << "  GPU " << device << ": " << prop.name << ", compute capability " << prop.major << '.' << prop.minor
        << ", " << prop.multiProcessorCount << " SMs, " << detail::format_bytes(prop.totalGlobalMem) << " memory";
    if (device == current) {
      size_t free_bytes = 0, total_bytes = 0;
      CXR_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
      out << " (" << detail::format_bytes(free_bytes) << " free)";
    }
    out << ", " << detail::format_bytes(static_cast<size_t>(prop.l2CacheSize)) << " L2\n";
  }
  out << library_versions();
  return out.str();
}

cudaStream_t stream() {
  const int device = detail::current_device("cxr::kernels::cuda::stream()");
  std::lock_guard lock(state_mutex());
  DeviceState& state = device_state(device);
  // A blocking stream (the default flag): anything a library still puts on the legacy default stream
  // stays ordered with our work.
  if (state.stream == nullptr) CXR_CUDA_CHECK(cudaStreamCreate(&state.stream));
  return state.stream;
}

void* pinned_host_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  detail::current_device("cxr::kernels::cuda::pinned_host_alloc");
  void* ptr = nullptr;
  const cudaError_t status = cudaMallocHost(&ptr, bytes);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    throw std::runtime_error("cxr::kernels::cuda::pinned_host_alloc: cannot allocate " + detail::format_bytes(bytes) +
                             " (" + std::to_string(bytes) + " bytes) of page-locked host memory: " +
                             cudaGetErrorString(status));
  }
  return ptr;
}

void pinned_host_free(void* ptr) {
  if (ptr != nullptr) CXR_CUDA_CHECK(cudaFreeHost(ptr));
}

void copy_host_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CXR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
}

void copy_device_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  const cudaStream_t s = stream();
  CXR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
  CXR_CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CXR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void synchronize() {
  if (!available()) return;  // nothing can have been queued
  CXR_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

}  // namespace cxr::kernels::cuda
