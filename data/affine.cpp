#include "data/affine.h"

#include <algorithm>
#include <array>
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

void affine_transform_matrix(const float* src, int H, int W, int C, const double m[4], const double offset[2],
                             float* dst) {
  for (int r = 0; r < H; ++r) {
    for (int c = 0; c < W; ++c) {
      // Each coordinate is clamped and split into taps exactly as axis_taps does for one axis.
      const double row = std::clamp(m[0] * r + m[1] * c + offset[0], 0.0, H - 1.0);
      const double col = std::clamp(m[2] * r + m[3] * c + offset[1], 0.0, W - 1.0);
      const double r_start = std::floor(row), c_start = std::floor(col);
      const int r0 = static_cast<int>(r_start), c0 = static_cast<int>(c_start);
      const int r1 = std::min(r0 + 1, H - 1), c1 = std::min(c0 + 1, W - 1);
      const double wr0 = 1.0 - (row - r_start), wr1 = 1.0 - wr0;
      const double wc0 = 1.0 - (col - c_start), wc1 = 1.0 - wc0;
      const float* p00 = src + (static_cast<size_t>(r0) * W + c0) * C;
      const float* p01 = src + (static_cast<size_t>(r0) * W + c1) * C;
      const float* p10 = src + (static_cast<size_t>(r1) * W + c0) * C;
      const float* p11 = src + (static_cast<size_t>(r1) * W + c1) * C;
      float* out = dst + (static_cast<size_t>(r) * W + c) * C;
      for (int k = 0; k < C; ++k) {
        double t = 0.0;
        t += double{p00[k]} * wr0 * wc0;
        t += double{p01[k]} * wr0 * wc1;
        t += double{p10[k]} * wr1 * wc0;
        t += double{p11[k]} * wr1 * wc1;
        out[k] = static_cast<float>(t);
      }
    }
  }
}

void keras_affine_matrix(int H, int W, double theta_degrees, double tx, double ty, double zx, double zy,
                         double centre_offset, double m[4], double offset[2]) {
  // The 3x3 products in numpy's order: ((rotation · shift) · zoom), then offset · that · reset.
  using M3 = std::array<std::array<double, 3>, 3>;
  auto dot = [](const M3& a, const M3& b) {
    M3 out{};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 3; ++k) out[i][j] += a[i][k] * b[k][j];
    return out;
  };
  const double theta = theta_degrees * M_PI / 180.0;  // np.deg2rad
  const M3 rotation{{{std::cos(theta), -std::sin(theta), 0}, {std::sin(theta), std::cos(theta), 0}, {0, 0, 1}}};
  const M3 shift{{{1, 0, tx}, {0, 1, ty}, {0, 0, 1}}};
  const M3 zoom{{{zx, 0, 0}, {0, zy, 0}, {0, 0, 1}}};
  const double o_r = H / 2.0 + centre_offset, o_c = W / 2.0 + centre_offset;
  const M3 to_centre{{{1, 0, o_r}, {0, 1, o_c}, {0, 0, 1}}};
  const M3 from_centre{{{1, 0, -o_r}, {0, 1, -o_c}, {0, 0, 1}}};
  const M3 full = dot(dot(to_centre, dot(dot(rotation, shift), zoom)), from_centre);
  m[0] = full[0][0];
  m[1] = full[0][1];
  m[2] = full[1][0];
  m[3] = full[1][1];
  offset[0] = full[0][2];
  offset[1] = full[1][2];
}

}  // namespace cxr::data
