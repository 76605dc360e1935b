// cuDNN and cuBLAS handles of the current device, created on first use, bound to stream(), never
// destroyed (static objects may still queue work during exit). Host code of the vendor paths only.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include <string>

namespace cxr::kernels::cuda::detail {

cudnnHandle_t cudnn_handle();
cublasHandle_t cublas_handle();

// Appends a vendor choice (a cuDNN convolution algorithm, a batch-norm mode) to the log of
// vendor::conv_algorithm_report() and prints the line to std::clog.
void log_vendor_choice(const std::string& line);
void clear_conv_algorithm_cache();  // defined by the convolution, called when the settings change

}  // namespace cxr::kernels::cuda::detail
