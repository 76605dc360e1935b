// The error messages behind CXR_CUDA_CHECK, CXR_CUDNN_CHECK, CXR_CUBLAS_CHECK and CXR_CUDA_CHECK_LAST.
#include "kernels/cuda/check.h"

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

namespace cxr::kernels::cuda::detail {
namespace {

// Errors raised by a kernel while it runs surface at whatever CUDA call comes next, so the line in
// the message may be innocent: say how to find the guilty launch.
bool is_asynchronous_fault(cudaError_t status) {
  switch (status) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorAssert:
    case cudaErrorMisalignedAddress:
    case cudaErrorIllegalInstruction:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorLaunchTimeout:
      return true;
    default:
      return false;
  }
}

[[noreturn]] void throw_message(const char* library, const std::string& name, int code, const char* text,
                                const char* call, const char* file, int line, const std::string& extra) {
  std::ostringstream message;
  message << library << " error " << name << " (" << code << ")";
  if (text != nullptr && name != text) message << ": " << text;
  message << "\n  in " << call << "\n  at " << file << ':' << line;
  if (!extra.empty()) message << "\n  " << extra;
  throw std::runtime_error(message.str());
}

std::string async_hint(cudaError_t status) {
  if (!is_asynchronous_fault(status) || sync_after_launch()) return {};
  return "this fault may come from an earlier kernel launch: rerun with CXR_CUDA_SYNC=1 to find it";
}

}  // namespace

bool sync_after_launch() {
  static const bool enabled = [] {
    const char* value = std::getenv("CXR_CUDA_SYNC");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return enabled;
}

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw_message("CUDA", cudaGetErrorName(status), static_cast<int>(status), cudaGetErrorString(status), call,
                file, line, async_hint(status));
}

void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  // cuDNN 9 keeps a more specific explanation (which parameter was bad) than its status string.
  char detail[1024] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string extra = detail[0] != '\0' ? std::string("cuDNN says: ") + detail : std::string();
  // cudnnGetErrorString gives the status's name (CUDNN_STATUS_BAD_PARAM...), not a sentence.
  throw_message("cuDNN", cudnnGetErrorString(status), static_cast<int>(status), nullptr, call, file, line, extra);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw_message("cuBLAS", cublasGetStatusName(status), static_cast<int>(status), cublasGetStatusString(status),
                call, file, line, {});
}

void check_last_launch(const char* file, int line) {
  const cudaError_t launch = cudaGetLastError();
  if (launch != cudaSuccess) throw_cuda_error(launch, "kernel launch (cudaGetLastError)", file, line);
  if (sync_after_launch()) {
    const cudaError_t run = cudaDeviceSynchronize();
    if (run != cudaSuccess)
      throw_cuda_error(run, "kernel run (cudaDeviceSynchronize after the launch, CXR_CUDA_SYNC=1)", file, line);
  }
}

}  // namespace cxr::kernels::cuda::detail
