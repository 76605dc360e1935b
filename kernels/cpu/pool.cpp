#include "kernels/pool.h"

#include <algorithm>
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

// Calls visit(c, argmax_offset) for every channel of one output pixel, argmax_offset being the
// offset into the image (from pixel (0,0) channel 0) of the first maximum in row-major window order.
// Channels are innermost in NHWC, so the scan keeps C running maxima and walks memory contiguously.
template <typename Visit>
void for_each_argmax(const Pool2dShape& s, const float* x_img, int oh, int ow, float* best, int64_t* arg,
                     Visit visit) {
  const Window win = window_at(s, oh, ow);
  bool first = true;
  for (int r = win.r0; r < win.r1; ++r) {
    for (int c = win.c0; c < win.c1; ++c) {
      const int64_t base = (static_cast<int64_t>(r) * s.W + c) * s.C;
      const float* px = x_img + base;
      for (int ch = 0; ch < s.C; ++ch) {
        if (first || px[ch] > best[ch]) {  // strict: a later tie never replaces the first maximum
          best[ch] = px[ch];
          arg[ch] = base + ch;
        }
      }
      first = false;
    }
  }
  for (int ch = 0; ch < s.C; ++ch) visit(ch, arg[ch]);
}

}  // namespace

void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  std::vector<float> best(s.C);
  std::vector<int64_t> arg(s.C);
  const int64_t image = static_cast<int64_t>(s.H) * s.W * s.C;
  for (int n = 0; n < s.N; ++n) {
    const float* x_img = x + n * image;
    for (int oh = 0; oh < s.OH; ++oh) {
      for (int ow = 0; ow < s.OW; ++ow) {
        float* out = y + ((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.C;
        for_each_argmax(s, x_img, oh, ow, best.data(), arg.data(), [&](int ch, int64_t) { out[ch] = best[ch]; });
      }
    }
  }
}

void maxpool2d_backward(const Pool2dShape& s, const float* x, const float* dy, float* dx) {
  std::vector<float> best(s.C);
  std::vector<int64_t> arg(s.C);
  const int64_t image = static_cast<int64_t>(s.H) * s.W * s.C;
  std::fill(dx, dx + s.N * image, 0.0f);
  for (int n = 0; n < s.N; ++n) {
    const float* x_img = x + n * image;
    float* dx_img = dx + n * image;
    for (int oh = 0; oh < s.OH; ++oh) {
      for (int ow = 0; ow < s.OW; ++ow) {
        const float* g = dy + ((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.C;
        for_each_argmax(s, x_img, oh, ow, best.data(), arg.data(),
                        [&](int ch, int64_t offset) { dx_img[offset] += g[ch]; });
      }
    }
  }
}

}  // namespace cpu
}  // namespace cxr::kernels
