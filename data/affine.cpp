#include "data/affine.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cxr::data {
namespace {

// Where one output row (or column) reads: two neighbours and their linear weights.
struct Taps {
  int i0, i1;
  double w0, w1;
};

// scipy's steps for one axis, order 1: coordinate = out·zoom + offset, clamped into [0, size−1]
// ('nearest'); weights w0 = 1 − t, w1 = 1 − w0 (scipy derives the last weight that way, which can
// differ from t in the last bit). The second neighbour of the last pixel has weight 0; scipy mirrors
// its index, we clamp it: either way it adds nothing.
std::vector<Taps> axis_taps(int size, double zoom, double offset) {
  std::vector<Taps> taps(static_cast<size_t>(size));
  for (int out = 0; out < size; ++out) {
    const double cc = std::clamp(out * zoom + offset, 0.0, size - 1.0);
    const double start = std::floor(cc);
    const int i0 = static_cast<int>(start);
    const double w0 = 1.0 - (cc - start);
    taps[static_cast<size_t>(out)] = {i0, std::min(i0 + 1, size - 1), w0, 1.0 - w0};
  }
  return taps;
}

}  // namespace

void affine_transform(const float* src, int H, int W, int C, double zx, double zy, double tx, double ty,
                      double centre_offset, float* dst) {
  // Keras builds offset_matrix · shift · zoom · reset_matrix; its translation column is
  // o + t − zoom·o, which scipy adds after the zoom.
  const double o_r = H / 2.0 + centre_offset, o_c = W / 2.0 + centre_offset;
  const std::vector<Taps> rows = axis_taps(H, zx, o_r + tx - zx * o_r);
  const std::vector<Taps> cols = axis_taps(W, zy, o_c + ty - zy * o_c);
  const size_t row_stride = static_cast<size_t>(W) * C;
  for (int r = 0; r < H; ++r) {
    const Taps& tr = rows[static_cast<size_t>(r)];
    const float* row0 = src + static_cast<size_t>(tr.i0) * row_stride;
    const float* row1 = src + static_cast<size_t>(tr.i1) * row_stride;
    float* out = dst + static_cast<size_t>(r) * row_stride;
    for (int c = 0; c < W; ++c) {
      const Taps& tc = cols[static_cast<size_t>(c)];
      const size_t a = static_cast<size_t>(tc.i0) * C, b = static_cast<size_t>(tc.i1) * C;
      for (int k = 0; k < C; ++k) {
        // Same products and summation order as scipy: v·w_row·w_col over (0,0), (0,1), (1,0), (1,1).
        double t = 0.0;
        t += double{row0[a + k]} * tr.w0 * tc.w0;
        t += double{row0[b + k]} * tr.w0 * tc.w1;
        t += double{row1[a + k]} * tr.w1 * tc.w0;
        t += double{row1[b + k]} * tr.w1 * tc.w1;
        out[static_cast<size_t>(c) * C + k] = static_cast<float>(t);
      }
    }
  }
}

}  // namespace cxr::data
