#include "engine/device.h"

#include "engine/error.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace cxr {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string digits = text.substr(5);
    CXR_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
              "device '" << text << "': expected cpu, cuda or cuda:N");
    return cuda(std::stoi(digits));
  }
  CXR_CHECK(false, "device '" << text << "': expected cpu, cuda or cuda:N");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

bool cuda_available() {
#ifdef CXR_WITH_CUDA
  return kernels::cuda::available();
#else
  return false;
#endif
}

}  // namespace cxr
