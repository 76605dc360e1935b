#include "kernels/pool.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/parallel.h"

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

// Images split over the OpenMP threads (kernels/cpu/parallel.h): an image's outputs, and in the
// backward its dx (overlapping windows add onto the same pixel in scan order), belong to one thread,
// so the bits do not depend on the thread count.

// The in-image part of one output pixel's window: rows [r0, r1) and columns [c0, c1) of the input.
struct Window {
  int r0, r1, c0, c1;
};
Window window_at(const Pool2dShape& s, int oh, int ow) {
  const int top = oh * s.sh - s.pad_top, left = ow * s.sw - s.pad_left;
  return {std::max(top, 0), std::min(top + s.ph, s.H), std::max(left, 0), std::min(left + s.pw, s.W)};
}

// Whether the scan takes v over the maximum so far: greater (strict, so a later tie never replaces
// the first maximum), or a NaN, which no number then replaces: a NaN anywhere in the window is the
// output and takes the gradient (its last one), as PyTorch's max pool does (`val > maxval ||
// isnan(val)`) and as cuDNN propagates it with CUDNN_PROPAGATE_NAN (the vendor choice), so a
// diverging run shows it. (v != v: NaN; the project is built without -ffinite-math-only.)
inline bool takes(float v, float best) { return v > best || v != v; }

// best[ch] = the window's maximum per channel by that scan. Selects rather than branches: random data
// would mispredict every other comparison, and selects vectorise over the channels, which are
// innermost in NHWC.
void window_max(const Pool2dShape& s, const float* x_img, const Window& win, float* best) {
  std::copy_n(x_img + (static_cast<int64_t>(win.r0) * s.W + win.c0) * s.C, s.C, best);
  for (int r = win.r0; r < win.r1; ++r) {
    for (int c = win.c0; c < win.c1; ++c) {
      const float* px = x_img + (static_cast<int64_t>(r) * s.W + c) * s.C;
      for (int ch = 0; ch < s.C; ++ch) {
        const float v = px[ch];
        best[ch] = takes(v, best[ch]) ? v : best[ch];
      }
    }
  }
}

// One image's maxpool2d_backward, adding onto dx_img. Each window's gradient goes to its first
// maximum (or last NaN) in scan order: the same scan as window_max, also keeping where each channel's
// maximum was (an int32 offset, the width of a float, so the selects vectorise together).
// Overlapping windows add onto the same pixel. best and arg: C values of scratch each, __restrict
// so that GCC vectorises the scans (it does not when they might alias x_img). Not inlined: inside the
// parallel_for lambda GCC spilled registers in the scatter loop, and the whole ran ~25% slower.
__attribute__((noinline)) void image_backward(const Pool2dShape& s, const float* x_img, const float* dy_img,
                                              float* dx_img, float* __restrict best, int32_t* __restrict arg) {
  for (int oh = 0; oh < s.OH; ++oh) {
    for (int ow = 0; ow < s.OW; ++ow) {
      const float* g = dy_img + (static_cast<int64_t>(oh) * s.OW + ow) * s.C;
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
          for (int ch = 0; ch < s.C; ++ch) {  // the offset select as a bit mask: GCC vectorises that
            const float v = px[ch], current = best[ch];
            const bool taken = takes(v, current);
            const int32_t take = -static_cast<int32_t>(taken);  // all ones where v is the new maximum
            best[ch] = taken ? v : current;
            arg[ch] = (arg[ch] & ~take) | ((base + ch) & take);
          }
        }
      }
      for (int ch = 0; ch < s.C; ++ch) dx_img[arg[ch]] += g[ch];
    }
  }
}

}  // namespace

void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const int64_t image = static_cast<int64_t>(s.H) * s.W * s.C;
  parallel_for(s.N, min_items_per_thread(image), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int oh = 0; oh < s.OH; ++oh)
        for (int ow = 0; ow < s.OW; ++ow)
          window_max(s, x + n * image, window_at(s, oh, ow), y + ((n * s.OH + oh) * s.OW + ow) * s.C);
  });
}

void maxpool2d_backward(const Pool2dShape& s, const float* x, const float* dy, float* dx) {
  const int64_t image = static_cast<int64_t>(s.H) * s.W * s.C;
  if (image > INT32_MAX) throw std::invalid_argument("maxpool2d: an image of " + std::to_string(image) + " values is too large");
  const int64_t out_image = static_cast<int64_t>(s.OH) * s.OW * s.C;
  parallel_for(s.N, min_items_per_thread(image), [&](int64_t n0, int64_t n1) {
    std::fill(dx + n0 * image, dx + n1 * image, 0.0f);
    std::vector<float> best(s.C);
    std::vector<int32_t> arg(s.C);
    for (int64_t n = n0; n < n1; ++n)
      image_backward(s, x + n * image, dy + n * out_image, dx + n * image, best.data(), arg.data());
  });
}

}  // namespace cpu
}  // namespace cxr::kernels
