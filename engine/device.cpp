#include "engine/device.h"

#include <unistd.h>

#include <charconv>
#include <limits>
#include <stdexcept>

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
    int index = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    // Digits only (from_chars would take a minus sign); result_out_of_range catches cuda:99999999999999.
    CXR_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos && ec == std::errc() &&
                  end == digits.data() + digits.size(),
              "device '" << text << "': expected cpu, cuda or cuda:N with N a GPU index");
    return cuda(index);
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

uint64_t memory_bytes(Device device) {
  if (device.is_cpu()) {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) return std::numeric_limits<uint64_t>::max();  // unknown: no limit
    return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
  }
  CXR_CHECK(cuda_available(), "device " << device.str() << " requested but no CUDA GPU is available");
#ifdef CXR_WITH_CUDA
  try {
    return kernels::cuda::total_memory(device.index);
  } catch (const std::out_of_range& e) {
    throw InputError(std::string("device ") + device.str() + ": " + e.what());
  }
#else
  return 0;  // unreachable: cuda_available() is false
#endif
}

}  // namespace cxr
