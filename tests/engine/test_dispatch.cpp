// A CUDA kernel's own size limit (kernels/shape_limit.h) reaches the user as bad input (InputError,
// exit 2) naming the device, not as an internal error: the dispatch translates it. Run here with
// stand-in kernels, since the real limits need a GPU to reach.
#include <gtest/gtest.h>

#include <string>

#include "engine/error.h"
#include "engine/ops/dispatch.h"
#include "kernels/shape_limit.h"

namespace cxr::kernels {
namespace cpu {
void stand_in_kernel(bool) {}
}  // namespace cpu
namespace cuda {
void stand_in_kernel(bool over_limit) {
  if (over_limit) throw ShapeLimitError("stand-in kernel: 70000 columns, at most 65535");
}
}  // namespace cuda
namespace vendor {
void stand_in_kernel(bool over_limit) { cuda::stand_in_kernel(over_limit); }  // as cuDNN's fallbacks do
}  // namespace vendor
}  // namespace cxr::kernels

namespace cxr {
namespace {

// Called only where the dispatch has a CUDA branch (CXR_WITH_CUDA); a build without nvcc has none.
[[maybe_unused]] std::string error_of(KernelChoice choice) {
  try {
    CXR_DISPATCH_CHOICE(Device::cuda(1), choice, stand_in_kernel(true));
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(Dispatch, ACudaKernelsShapeLimitIsBadInputNamingTheDevice) {
#ifdef CXR_WITH_CUDA
  EXPECT_EQ(error_of(KernelChoice::Custom), "on cuda:1: stand-in kernel: 70000 columns, at most 65535");
  EXPECT_EQ(error_of(KernelChoice::Vendor), "on cuda:1: stand-in kernel: 70000 columns, at most 65535");
  CXR_DISPATCH(Device::cuda(0), stand_in_kernel(false));  // within the limit: nothing thrown
#else
  GTEST_SKIP() << "built without CUDA: the dispatch has no CUDA branch";
#endif
}

}  // namespace
}  // namespace cxr
