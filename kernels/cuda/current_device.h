// Shared by the runtime and the allocator (host code, not part of the public API).
#pragma once

#include <cstddef>
#include <string>

namespace cxr::kernels::cuda::detail {

// The calling thread's current device; throws "<caller>: no CUDA device (<reason>)" when there is none.
int current_device(const char* caller);

// "1.50 GiB": sizes in error messages and reports.
std::string format_bytes(size_t bytes);

}  // namespace cxr::kernels::cuda::detail
