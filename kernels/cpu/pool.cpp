#include "kernels/pool.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cxr::kernels {

Pool2dShape make_pool2d_shape(int N, int H, int W, int C, int ph, int pw, int sh, int sw, bool same_padding) {
  if (N < 1 || C < 1)
    throw std::invalid_argument("maxpool2d: batch " + std::to_string(N) + " and channels " + std::to_string(C) +
                                " must be positive");
  const WindowPadding py = tf_window_padding(H, ph, sh, same_padding);
  const WindowPadding px = tf_window_padding(W, pw, sw, same_padding);
  return Pool2dShape{.N = N, .H = H, .W = W, .C = C, .ph = ph, .pw = pw, .sh = sh, .sw = sw,
                     .pad_top = py.pad_begin, .pad_left = px.pad_begin, .pad_bottom = py.pad_end,
                     .pad_right = px.pad_end, .OH = py.out, .OW = px.out};
}

namespace cpu {
namespace {

// The in-image part of one output pixel's window: rows [r0, r1) and columns [c0, c1) of the input.
struct Window {
  int r0, r1, c0, c1;
};
Window window_at(const Pool2dShape& s, int oh, int ow) {
  const int top = oh * s.sh - s.pad_top, left = ow * s.sw - s.pad_left;
  return {std::max(top, 0), std::min(top + s.ph, s.H), std::max(left, 0), std::min(left + s.pw, s.W)};
}

// best[ch] = the window's maximum per channel by the strict scan (the first pixel's values, then a
// later pixel only where it is greater, so a NaN first pixel stays and later NaNs never win).
// Selects rather than branches: random data would mispredict every other comparison, and selects
// vectorise over the channels, which are innermost in NHWC.
void window_max(const Pool2dShape& s, const float* x_img, const Window& win, float* best) {
  std::copy_n(x_img + (static_cast<int64_t>(win.r0) * s.W + win.c0) * s.C, s.C, best);
  for (int r = win.r0; r < win.r1; ++r) {
    for (int c = win.c0; c < win.c1; ++c) {
      const float* px = x_img + (static_cast<int64_t>(r) * s.W + c) * s.C;
      for (int ch = 0; ch < s.C; ++ch) {
        const float v = px[ch];
        best[ch] = v > best[ch] ? v : best[ch];
      }
    }
  }
}

}  // namespace

void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const int64_t image = static_cast<int64_t>(s.H) * s.W * s.C;
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow)
        window_max(s, x + n * image, window_at(s, oh, ow), y + ((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.C);
}

// Each window's gradient goes to its first maximum in scan order: the same strict scan as
// window_max, also keeping where each channel's maximum was (an int32 offset, the width of a
// float, so the selects vectorise together). Overlapping windows add onto the same pixel.
void maxpool2d_backward(const Pool2dShape& s, const float* x, const float* dy, float* dx) {
  std::vector<float> best(s.C);
  std::vector<int32_t> arg(s.C);
  const int64_t image = static_cast<int64_t>(s.H) * s.W * s.C;
  if (image > INT32_MAX) throw std::invalid_argument("maxpool2d: an image of " + std::to_string(image) + " values is too large");
  std::fill(dx, dx + s.N * image, 0.0f);
  for (int n = 0; n < s.N; ++n) {
    const float* x_img = x + n * image;
    float* dx_img = dx + n * image;
    for (int oh = 0; oh < s.OH; ++oh) {
      for (int ow = 0; ow < s.OW; ++ow) {
        const float* g = dy + ((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.C;
        const Window win = window_at(s, oh, ow);
        const auto first = static_cast<int32_t>((static_cast<int64_t>(win.r0) * s.W + win.c0) * s.C);
        for (int ch = 0; ch < s.C; ++ch) {
          best[ch] = x_img[first + ch];
          arg[ch] = first + ch;
        }
        for (int r = win.r0; r < win.r1; ++r) {
          for (int c = win.c0; c < win.c1; ++c) {
            const auto base = static_cast<int32_t>((static_cast<int64_t>(r) * s.W + c) * s.C);
            const float* px = x_img + base;
            float* __restrict b = best.data();
            int32_t* __restrict a = arg.data();
            for (int ch = 0; ch < s.C; ++ch) {  // the offset select as a bit mask: GCC vectorises that
              const float v = px[ch], current = b[ch];
              const int32_t take = -static_cast<int32_t>(v > current);  // all ones where v is the new maximum
              b[ch] = v > current ? v : current;
              a[ch] = (a[ch] & ~take) | ((base + ch) & take);
            }
          }
        }
        for (int ch = 0; ch < s.C; ++ch) dx_img[arg[ch]] += g[ch];
      }
    }
  }
}

}  // namespace cpu
}  // namespace cxr::kernels
