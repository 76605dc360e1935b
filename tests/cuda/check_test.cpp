// The status-check macros of kernels/cuda/check.h. Error strings need no GPU, so these run anywhere.
#include "kernels/cuda/check.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace cxr::kernels::cuda {
namespace {

cudaError_t fails_with_invalid_value() { return cudaErrorInvalidValue; }
cudnnStatus_t cudnn_bad_param() { return CUDNN_STATUS_BAD_PARAM; }
cublasStatus_t cublas_invalid_value() { return CUBLAS_STATUS_INVALID_VALUE; }

template <class Call>
std::string message_of(Call call) {
  try {
    call();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no exception)";
}

void expect_names(const std::string& message, std::initializer_list<const char*> parts) {
  for (const char* part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' in: " << message;
}

TEST(CheckMacros, CudaErrorNamesCallFileLineAndError) {
  const int line = __LINE__ + 1;
  const std::string message = message_of([] { CXR_CUDA_CHECK(fails_with_invalid_value()); });
  expect_names(message, {"CUDA error", "cudaErrorInvalidValue", "invalid argument", "fails_with_invalid_value()",
                         "check_test.cpp"});
  const std::string file_and_line = "check_test.cpp:" + std::to_string(line);
  EXPECT_NE(message.find(file_and_line), std::string::npos) << message;
}

TEST(CheckMacros, CudnnErrorNamesTheStatus) {
  expect_names(message_of([] { CXR_CUDNN_CHECK(cudnn_bad_param()); }),
               {"cuDNN error", "CUDNN_STATUS_BAD_PARAM", "cudnn_bad_param()", "check_test.cpp"});
}

TEST(CheckMacros, CublasErrorNamesTheStatus) {
  expect_names(message_of([] { CXR_CUBLAS_CHECK(cublas_invalid_value()); }),
               {"cuBLAS error", "CUBLAS_STATUS_INVALID_VALUE", "cublas_invalid_value()", "check_test.cpp"});
}

TEST(CheckMacros, SuccessDoesNothing) {
  EXPECT_NO_THROW(CXR_CUDA_CHECK(cudaSuccess));
  EXPECT_NO_THROW(CXR_CUDNN_CHECK(CUDNN_STATUS_SUCCESS));
  EXPECT_NO_THROW(CXR_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

TEST(CheckMacros, AsynchronousFaultsPointToTheSyncSwitch) {
  if (detail::sync_after_launch()) GTEST_SKIP() << "CXR_CUDA_SYNC=1 is set";
  expect_names(message_of([] { CXR_CUDA_CHECK(cudaErrorIllegalAddress); }), {"CXR_CUDA_SYNC=1"});
}

}  // namespace
}  // namespace cxr::kernels::cuda
