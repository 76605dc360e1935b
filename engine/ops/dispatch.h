// How an op picks its kernel: the CPU reference for CPU tensors, the CUDA twin for CUDA tensors.
#pragma once
#include <initializer_list>
#include <string>

#include "engine/error.h"
#include "engine/kernel_choice.h"
#include "engine/tensor.h"
#include "kernels/shape_limit.h"

namespace cxr {

// Every defined tensor must be on `op`'s device; the error names the odd one out.
inline Device common_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    CXR_CHECK(t->device() == first->device(),
              op << ": " << t->describe() << " and " << first->describe() << " are on different devices");
  }
  CXR_CHECK(first, op << ": no input tensors");
  return first->device();
}

// Whether a tensor on `device` takes the vendor path under `choice` (CUDA only).
inline bool takes_vendor_path(Device device, KernelChoice choice) {
  return !device.is_cpu() && choice == KernelChoice::Vendor;
}

// A CUDA kernel's own size limit (kernels/shape_limit.h) is bad input for this run, not a bug.
[[noreturn]] inline void shape_limit(Device device, const kernels::ShapeLimitError& e) {
  throw InputError("on " + device.str() + ": " + e.what());
}

[[noreturn]] inline void no_cuda_kernel(const char* op) {
  throw InputError(std::string(op) + ": no CUDA kernel yet (it comes with the CUDA backend); run on --device cpu");
}

}  // namespace cxr

// CXR_DISPATCH(device, relu_forward(n, x, y)) calls kernels::cpu::... or kernels::cuda::...
#ifdef CXR_WITH_CUDA
#define CXR_DISPATCH(device, call)                                  \
  do {                                                              \
    if ((device).is_cpu()) {                                        \
      ::cxr::kernels::cpu::call;                                    \
    } else {                                                        \
      try {                                                         \
        ::cxr::kernels::cuda::call;                                 \
      } catch (const ::cxr::kernels::ShapeLimitError& cxr_limit_) { \
        ::cxr::shape_limit(device, cxr_limit_);                     \
      }                                                             \
    }                                                               \
  } while (0)
#else
#define CXR_DISPATCH(device, call)                                   \
  do {                                                               \
    if ((device).is_cpu()) {                                         \
      ::cxr::kernels::cpu::call;                                     \
    } else {                                                         \
      throw ::cxr::InputError("this cxrnet was built without CUDA"); \
    }                                                                \
  } while (0)
#endif

// CXR_DISPATCH_VENDOR(device, choice, vendor_call, call): for vendor functions whose arguments differ
// from the custom twin's (cuDNN's backward passes read the forward's output as well): on CUDA under
// the vendor choice kernels::vendor::vendor_call, otherwise CXR_DISPATCH(device, call).
#ifdef CXR_WITH_CUDA
#define CXR_DISPATCH_VENDOR(device, choice, vendor_call, call)           \
  do {                                                                   \
    if (!(device).is_cpu() && (choice) == ::cxr::KernelChoice::Vendor) { \
      try { /* cuDNN leaves some shapes to the custom kernels */         \
        ::cxr::kernels::vendor::vendor_call;                             \
      } catch (const ::cxr::kernels::ShapeLimitError& cxr_limit_) {      \
        ::cxr::shape_limit(device, cxr_limit_);                          \
      }                                                                  \
    } else {                                                             \
      CXR_DISPATCH(device, call);                                        \
    }                                                                    \
  } while (0)
#else
#define CXR_DISPATCH_VENDOR(device, choice, vendor_call, call) \
  do {                                                         \
    (void)(choice);                                            \
    CXR_DISPATCH(device, call);                                \
  } while (0)
#endif

// CXR_DISPATCH_CHOICE(device, choice, conv2d_forward(...)): like CXR_DISPATCH, and on CUDA the custom
// kernel (kernels::cuda) or the vendor library (kernels::vendor, same arguments) by a KernelChoice
// (engine/kernel_choice.h).
#define CXR_DISPATCH_CHOICE(device, choice, call) CXR_DISPATCH_VENDOR(device, choice, call, call)

// CXR_VENDOR_CALL(call): kernels::vendor::call, inside a branch already taken only when
// takes_vendor_path() is true (which a build without CUDA never reaches).
#ifdef CXR_WITH_CUDA
#define CXR_VENDOR_CALL(call) ::cxr::kernels::vendor::call
#else
#define CXR_VENDOR_CALL(call) throw ::cxr::InputError("this cxrnet was built without CUDA")
#endif

// For ops whose CUDA kernel has not been written yet.
#define CXR_DISPATCH_CPU_ONLY(device, op, call) \
  do {                                          \
    if ((device).is_cpu()) {                    \
      ::cxr::kernels::cpu::call;                \
    } else {                                    \
      ::cxr::no_cuda_kernel(op);                \
    }                                           \
  } while (0)
