// Images split over the OpenMP threads (kernels/cpu/parallel.h): each output value is summed by one
// thread in the same order, so the bits do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/global_pool.h"

namespace cxr::kernels::cpu {

void global_avg_pool2d_forward(int N, int HW, int C, const float* x, float* y) {
  parallel_for(N, min_items_per_thread(int64_t{HW} * C), [=](int64_t n0, int64_t n1) {
    std::vector<float> acc(static_cast<size_t>(C));
    for (int64_t n = n0; n < n1; ++n) {
      const float* img = x + n * HW * C;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t p = 0; p < HW; ++p)  // channels innermost: contiguous reads
        for (int64_t c = 0; c < C; ++c) acc[c] += img[p * C + c];
      for (int64_t c = 0; c < C; ++c) y[n * C + c] = acc[c] / static_cast<float>(HW);
    }
  });
}

void global_avg_pool2d_backward(int N, int HW, int C, const float* dy, float* dx) {
  parallel_for(N, min_items_per_thread(int64_t{HW} * C), [=](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t p = 0; p < HW; ++p)
        for (int64_t c = 0; c < C; ++c) dx[(n * HW + p) * C + c] = dy[n * C + c] / static_cast<float>(HW);
  });
}

}  // namespace cxr::kernels::cpu
