// The emulator runs a grid's blocks one after another, so batch norm's resident kernels (two grid-wide
// barriers, kernels/cuda/batchnorm_resident.cu) cannot run here: the emulated batchnorm.cu gets these
// stand-ins, which decline, and runs its two-pass kernels. tests/cuda/batchnorm_resident_test.cpp
// compares the resident kernels with them on a GPU.
#include "kernels/cuda/batchnorm_resident.h"

namespace cxr::kernels::cuda::detail {

bool batchnorm_forward_train_resident(int64_t, int, const float*, const float*, const float*, float, float*, float*,
                                      float*, float*, double*, double*) {
  return false;
}

bool batchnorm_backward_train_resident(int64_t, int, const float*, const float*, const float*, const float*,
                                       const float*, float*, float*, float*, double*, double*) {
  return false;
}

bool batchnorm_dropout_relu_forward_train_resident(int64_t, int, const float*, const float*, const float*, float,
                                                   float, uint64_t, uint64_t, float*, float*, float*, float*, double*,
                                                   double*) {
  return false;
}

bool batchnorm_dropout_relu_backward_train_resident(int64_t, int, const float*, const float*, const float*,
                                                    const float*, float, const float*, const float*, float*, float*,
                                                    float*, double*, double*) {
  return false;
}

}  // namespace cxr::kernels::cuda::detail
