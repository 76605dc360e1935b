#include "kernels/zero_pad2d.h"

#include <algorithm>
#include <cstring>

namespace cxr::kernels::cpu {

// Rows of an NHWC image are contiguous runs of W*C floats: copy each input row into the middle of
// its padded row, zero the rest.
void zero_pad2d_forward(const Pad2dShape& s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t out_row = OW * C, in_row = int64_t{s.W} * C;
  for (int64_t n = 0; n < s.N; ++n) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      float* dst = y + (n * OH + oh) * out_row;
      const int64_t h = oh - s.top;
      if (h < 0 || h >= s.H) {
        std::fill(dst, dst + out_row, 0.0f);
        continue;
      }
      std::fill(dst, dst + s.left * C, 0.0f);
      std::memcpy(dst + s.left * C, x + (n * s.H + h) * in_row, static_cast<size_t>(in_row) * sizeof(float));
      std::fill(dst + s.left * C + in_row, dst + out_row, 0.0f);
    }
  }
}

// The padding's gradient goes nowhere: dx is the interior of dy.
void zero_pad2d_backward(const Pad2dShape& s, const float* dy, float* dx) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t out_row = OW * C, in_row = int64_t{s.W} * C;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t h = 0; h < s.H; ++h)
      std::memcpy(dx + (n * s.H + h) * in_row, dy + (n * OH + h + s.top) * out_row + s.left * C,
                  static_cast<size_t>(in_row) * sizeof(float));
}

}  // namespace cxr::kernels::cpu
