// The vendor-library paths (cuDNN convolution, cuBLAS GEMM): their settings, their handles, and the
// log of the convolution algorithms cuDNN was asked to pick.
//
// Settings are process-wide and read by every vendor call; their defaults come from the
// environment so a run can be switched without a rebuild:
//   CXR_TF32=1                 allow TF32 tensor cores (default: plain FP32, comparable with the CPU)
//   CXR_CUDNN_DETERMINISTIC=1  only deterministic cuDNN algorithms
//   CXR_CUDNN_WORKSPACE_MB=N   the largest workspace one convolution may take (default 256)
#pragma once

#include <cstddef>
#include <string>

namespace cxr::kernels::vendor {

struct VendorSettings {
  bool allow_tf32 = false;
  bool deterministic = false;
  size_t workspace_cap_bytes = size_t{256} << 20;
};

VendorSettings settings();
void set_settings(const VendorSettings& settings);  // clears the algorithm cache: choices depend on them

// One line per convolution shape and direction chosen so far ("" before the first vendor call).
std::string conv_algorithm_report();

}  // namespace cxr::kernels::vendor
