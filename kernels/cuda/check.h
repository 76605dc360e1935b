// Status checks for CUDA, cuDNN and cuBLAS calls. Every failing call becomes a std::runtime_error
// that names the call's text, the file and line, and the library's own error name and string, so
// a failure in a training run points at one line of our code rather than at "error 700".
//
// Kernel launches report errors in two ways: a bad launch configuration at once (cudaGetLastError),
// a fault inside the kernel only at some later call. CXR_CUDA_CHECK_LAST() after each launch catches
// the first; set CXR_CUDA_SYNC=1 in the environment to make it also synchronise, so the second is
// reported at the launch that caused it (slow: a debugging switch, never the default).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace cxr::kernels::cuda::detail {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

// Checks the last launch; with CXR_CUDA_SYNC=1 also waits for the device and checks what it ran.
void check_last_launch(const char* file, int line);

// True when the environment has CXR_CUDA_SYNC=1 (read once, at the first checked launch).
bool sync_after_launch();

}  // namespace cxr::kernels::cuda::detail

#define CXR_CUDA_CHECK(call)                                                              \
  do {                                                                                    \
    const cudaError_t cxr_cuda_status_ = (call);                                          \
    if (cxr_cuda_status_ != cudaSuccess)                                                  \
      ::cxr::kernels::cuda::detail::throw_cuda_error(cxr_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define CXR_CUDNN_CHECK(call)                                                             \
  do {                                                                                    \
    const cudnnStatus_t cxr_cudnn_status_ = (call);                                       \
    if (cxr_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                        \
      ::cxr::kernels::cuda::detail::throw_cudnn_error(cxr_cudnn_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define CXR_CUBLAS_CHECK(call)                                                            \
  do {                                                                                    \
    const cublasStatus_t cxr_cublas_status_ = (call);                                     \
    if (cxr_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                      \
      ::cxr::kernels::cuda::detail::throw_cublas_error(cxr_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: `my_kernel<<<grid, block, 0, stream()>>>(...); CXR_CUDA_CHECK_LAST();`
#define CXR_CUDA_CHECK_LAST() ::cxr::kernels::cuda::detail::check_last_launch(__FILE__, __LINE__)
