#include "kernels/zero_pad2d.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/parallel.h"

namespace cxr::kernels::cpu {

// Rows split over the OpenMP threads (kernels/cpu/parallel.h); each is a copy, so any split gives
// the same bits.

// Rows of an NHWC image are contiguous runs of W*C floats: copy each input row into the middle of
// its padded row, zero the rest.
void zero_pad2d_forward(const Pad2dShape& s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t out_row = OW * C, in_row = int64_t{s.W} * C;
  parallel_for(s.N * OH, min_items_per_thread(out_row), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {  // r = n * OH + oh
      const int64_t n = r / OH, h = r % OH - s.top;
      float* dst = y + r * out_row;
      if (h < 0 || h >= s.H) {
        std::fill(dst, dst + out_row, 0.0f);
        continue;
      }
      std::fill(dst, dst + s.left * C, 0.0f);
      std::memcpy(dst + s.left * C, x + (n * s.H + h) * in_row, static_cast<size_t>(in_row) * sizeof(float));
      std::fill(dst + s.left * C + in_row, dst + out_row, 0.0f);
    }
  });
}

// The padding's gradient goes nowhere: dx is the interior of dy.
void zero_pad2d_backward(const Pad2dShape& s, const float* dy, float* dx) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t out_row = OW * C, in_row = int64_t{s.W} * C;
  parallel_for(int64_t{s.N} * s.H, min_items_per_thread(in_row), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {  // r = n * H + h
      const int64_t n = r / s.H, h = r % s.H;
      std::memcpy(dx + r * in_row, dy + (n * OH + h + s.top) * out_row + s.left * C,
                  static_cast<size_t>(in_row) * sizeof(float));
    }
  });
}

}  // namespace cxr::kernels::cpu
