// CPU convolution. Unpadded layers go to the direct kernels of kernels/cpu/conv2d_direct.cpp: the
// forward pass where K is a multiple of 8 (every ResNet50V2 layer too), the gradients where the
// weights are small as well (experiments 1-3, ResNet's early 3x3 layers); the rest is im2col + GEMM.
// With NHWC activations and OHWI weights, one output pixel's
// receptive field is a row of R*S*C values laid out exactly like one filter row of w, so
//   y[pixels][K]      = col[pixels][RSC] . w[K][RSC]^T
//   dw[K][RSC]        = dy[pixels][K]^T . col[pixels][RSC]
//   dcol[pixels][RSC] = dy[pixels][K] . w[K][RSC]   (then col2im scatters dcol back onto dx)
// Every pass goes through blocks of one image's output pixels small enough that the im2col (or
// col2im) buffer stays in cache, so memory is bounded whatever the batch (a whole 128x128 batch's
// col would be ~150 MB). Threads (kernels/cpu/parallel.h) take blocks (forward), images (input
// gradient) or fixed groups of images (weight gradient, summed in group order), never a split that
// depends on the thread count, so the results are bit-identical on any number of threads, except
// for 1x1 convolutions' passes that are a single GEMM split by sgemm (parallel.h): the gradients,
// and the forward pass where K is not a multiple of 8.
// make_conv2d_shape and tf_window_padding live here too: they are host code shared by both backends.
#include "kernels/conv2d.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernels/cpu/column_sums.h"
#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/parallel.h"
#include "kernels/dense.h"

namespace cxr::kernels {

WindowPadding tf_window_padding(int in, int window, int stride, bool same_padding) {
  if (in < 1 || window < 1 || stride < 1)
    throw std::invalid_argument("window padding: size " + std::to_string(in) + ", window " + std::to_string(window) +
                                " and stride " + std::to_string(stride) + " must all be positive");
  if (!same_padding) {
    if (in < window)
      throw std::invalid_argument("valid padding: window " + std::to_string(window) + " is larger than the input " +
                                  std::to_string(in) + ", the output would be empty");
    return {(in - window) / stride + 1, 0, 0};
  }
  // In 64 bits: a stride or window near INT_MAX overflowed `in + stride - 1` into a 0-pixel output.
  // (out - 1) * stride < in, so the padding is below the window and fits an int.
  const int64_t out = (int64_t{in} + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + window - in, 0);
  return {static_cast<int>(out), static_cast<int>(total / 2), static_cast<int>(total - total / 2)};
}

Conv2dShape make_conv2d_shape(int N, int H, int W, int C, int K, int R, int S, int stride_h, int stride_w,
                              bool same_padding) {
  if (N < 1 || C < 1 || K < 1)
    throw std::invalid_argument("conv2d: batch " + std::to_string(N) + ", channels " + std::to_string(C) +
                                " and filters " + std::to_string(K) + " must be positive");
  const WindowPadding ph = tf_window_padding(H, R, stride_h, same_padding);
  const WindowPadding pw = tf_window_padding(W, S, stride_w, same_padding);
  return Conv2dShape{.N = N, .H = H, .W = W, .C = C, .K = K, .R = R, .S = S, .stride_h = stride_h,
                     .stride_w = stride_w, .pad_top = ph.pad_begin, .pad_left = pw.pad_begin,
                     .pad_bottom = ph.pad_end, .pad_right = pw.pad_end, .OH = ph.out, .OW = pw.out};
}

namespace cpu {
namespace {

// A col block of at most 1 MB, about one core's L2 (the forward pass takes half: its GEMM also
// streams y). Measured on experiment 1's layers: no slower than 4 MB, faster than 16 MB.
constexpr int64_t kColBudgetFloats = int64_t{1} << 18;

int64_t col_row_length(const Conv2dShape& s) { return static_cast<int64_t>(s.R) * s.S * s.C; }
int64_t out_pixels(const Conv2dShape& s) { return static_cast<int64_t>(s.OH) * s.OW; }
int64_t image_size(const Conv2dShape& s) { return static_cast<int64_t>(s.H) * s.W * s.C; }

// Every GEMM call packs the weights (K x RSC floats) afresh, so a block needs enough output pixels
// to amortise that: ResNet's 2x2 last stage has 4 pixels per image against 2.4M weights.
constexpr int64_t kMinBlockPixels = 128;

// Output rows of the batch (row = n * OH + oh) per block, a block possibly spanning images: as many
// as fit `budget` floats of col, and at least kMinBlockPixels pixels.
int64_t block_rows(const Conv2dShape& s, int64_t budget) {
  const int64_t by_budget = budget / (int64_t{s.OW} * col_row_length(s));
  const int64_t by_pixels = (kMinBlockPixels + s.OW - 1) / s.OW;
  return std::clamp<int64_t>(std::max(by_budget, by_pixels), 1, int64_t{s.N} * s.OH);
}

// A 1x1 stride-1 unpadded convolution's im2col matrix is the input itself (ResNet's many 1x1 convs).
bool col_is_input(const Conv2dShape& s) {
  return s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_left == 0 &&
         s.pad_bottom == 0 && s.pad_right == 0;
}

// For one output column ow: the filter columns [lo, hi) that land inside the image, and the input
// column of filter column 0 (may be negative in the left padding).
struct ColumnSpan {
  int iw0, lo, hi;
};
ColumnSpan column_span(const Conv2dShape& s, int ow) {
  const int iw0 = ow * s.stride_w - s.pad_left;
  const int lo = std::clamp(-iw0, 0, s.S);
  const int hi = std::clamp(s.W - iw0, lo, s.S);
  return {iw0, lo, hi};
}

// Copies n floats. The runs im2col moves are short (S*C floats: 15 for a 5x5 filter on RGB), where
// a call to memcpy costs more than the copy; the loop stays a loop (no memcpy idiom) and vectorises.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void copy_run(const float* __restrict src,
                                                                            float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// The col rows of the output rows [oh0, oh1) of one image, output row oh0's first.
void im2col(const Conv2dShape& s, const float* x_img, float* col, int oh0, int oh1) {
  const int64_t SC = static_cast<int64_t>(s.S) * s.C;
  for (int oh = oh0; oh < oh1; ++oh) {
    for (int ow = 0; ow < s.OW; ++ow) {
      float* dst = col + (static_cast<int64_t>(oh - oh0) * s.OW + ow) * col_row_length(s);
      const ColumnSpan span = column_span(s, ow);
      for (int r = 0; r < s.R; ++r, dst += SC) {
        const int ih = oh * s.stride_h - s.pad_top + r;
        if (ih < 0 || ih >= s.H || span.hi == span.lo) {
          std::fill(dst, dst + SC, 0.0f);
          continue;
        }
        // In NHWC the in-bounds part of a filter row is one contiguous run of the input row.
        const float* src = x_img + (static_cast<int64_t>(ih) * s.W + span.iw0 + span.lo) * s.C;
        std::fill(dst, dst + static_cast<int64_t>(span.lo) * s.C, 0.0f);
        copy_run(src, dst + static_cast<int64_t>(span.lo) * s.C, static_cast<int64_t>(span.hi - span.lo) * s.C);
        std::fill(dst + static_cast<int64_t>(span.hi) * s.C, dst + SC, 0.0f);
      }
    }
  }
}

// The adjoint of im2col: adds every col entry onto the input pixel it was copied from, for the
// image's output pixels [p0, p1) (col holds their rows, pixel p0's first). dx_img must be zeroed
// first; padded entries have no pixel and are dropped.
void col2im_add(const Conv2dShape& s, const float* col, float* dx_img, int64_t p0, int64_t p1) {
  const int64_t SC = static_cast<int64_t>(s.S) * s.C;
  for (int64_t p = p0; p < p1; ++p) {
    const int oh = static_cast<int>(p / s.OW), ow = static_cast<int>(p % s.OW);
    const float* src_row = col + (p - p0) * col_row_length(s);
    const ColumnSpan span = column_span(s, ow);
    for (int r = 0; r < s.R; ++r, src_row += SC) {
      const int ih = oh * s.stride_h - s.pad_top + r;
      if (ih < 0 || ih >= s.H) continue;
      float* __restrict dst = dx_img + (static_cast<int64_t>(ih) * s.W + span.iw0 + span.lo) * s.C;
      const float* __restrict src = src_row + static_cast<int64_t>(span.lo) * s.C;
      const int64_t n = static_cast<int64_t>(span.hi - span.lo) * s.C;
      for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
    }
  }
}

// im2col of the batch's output rows [r0, r1) (row = n * OH + oh), row r0's first.
void im2col_rows(const Conv2dShape& s, const float* x, int64_t r0, int64_t r1, float* col) {
  for (int64_t r = r0; r < r1;) {
    const int64_t n = r / s.OH;
    const int oh0 = static_cast<int>(r % s.OH), oh1 = static_cast<int>(std::min<int64_t>(r1 - n * s.OH, s.OH));
    im2col(s, x + n * image_size(s), col + (r - r0) * s.OW * col_row_length(s), oh0, oh1);
    r = n * s.OH + oh1;
  }
}

// Uninitialised scratch: im2col writes every entry, so zero-filling would be a wasted pass.
std::unique_ptr<float[]> scratch(int64_t n) { return std::make_unique_for_overwrite<float[]>(static_cast<size_t>(n)); }

// dx = col2im(dy . w). col2im's windows overlap, so an image's dx must have a single writer: each
// work item is one image, gone through in blocks of output pixels whose dcol (~256 KB) stays in
// cache between the GEMM that writes it and the col2im that reads it, or, for images of fewer than
// kMinBlockPixels pixels, several whole images under one GEMM. The items do not depend on the
// thread count, so neither do the bits.
void input_gradient(const Conv2dShape& s, const float* w, const float* dy, float* dx) {
  const int64_t P = out_pixels(s), RSC = col_row_length(s);
  const bool small = P < kMinBlockPixels;
  const int64_t images_per_item = small ? (kMinBlockPixels + P - 1) / P : 1;
  const int64_t pixels_per_block = small ? P : std::clamp<int64_t>((int64_t{1} << 16) / RSC, kMinBlockPixels, P);
  const int64_t items = (s.N + images_per_item - 1) / images_per_item;
  parallel_for(items, 1, [&](int64_t i0, int64_t i1) {
    auto dcol = scratch(images_per_item * pixels_per_block * RSC);
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t n0 = item * images_per_item, n1 = std::min<int64_t>(s.N, n0 + images_per_item);
      std::fill(dx + n0 * image_size(s), dx + n1 * image_size(s), 0.0f);
      for (int64_t p0 = 0; p0 < P; p0 += pixels_per_block) {  // one block when several images
        const int64_t p1 = std::min(P, p0 + pixels_per_block);
        sgemm(false, false, static_cast<int>((n1 - n0) * (p1 - p0)), static_cast<int>(RSC), s.K, 1.0f,
              dy + (n0 * P + p0) * s.K, w, 0.0f, dcol.get());
        for (int64_t n = n0; n < n1; ++n)
          col2im_add(s, dcol.get() + (n - n0) * (p1 - p0) * RSC, dx + n * image_size(s), p0, p1);
      }
    }
  });
}

// dw = the sum over all output pixels of dy[pixel]^T . col[pixel]. The batch's output rows (row =
// n * OH + oh) form a fixed number of groups (never derived from the thread count); each group sums
// its rows into a partial dw of its own, in blocks of rows whose col stays in cache (a block may
// span images), one group per thread at a time; the partials are then added in group order, so the
// bits do not depend on the thread count. A group needs enough pixels for its GEMMs to be efficient
// (their inner dimension): a layer with few pixels per batch and a large dw (ResNet's last stage at
// 2x2) runs as one group, whose GEMMs sgemm splits over the threads instead (parallel.h).
void weight_gradient(const Conv2dShape& s, const float* x, const float* dy, float* dw) {
  const int64_t RSC = col_row_length(s), KRSC = s.K * RSC, rows = int64_t{s.N} * s.OH;
  // Up to 8 groups (2-8 cores busy) of at least 512 pixels, and at most 64 MB of partials.
  const int64_t pixels = rows * s.OW;
  const int groups = static_cast<int>(
      std::clamp<int64_t>(std::min(pixels / 512, (int64_t{1} << 24) / KRSC), 1, std::min<int64_t>(8, rows)));
  auto partials = scratch((groups - 1) * KRSC);  // group 0 writes dw itself; first blocks overwrite
  const int64_t rows_per_block = block_rows(s, kColBudgetFloats);
  parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
    auto col = scratch(rows_per_block * s.OW * RSC);
    for (int64_t g = g0; g < g1; ++g) {
      float* out = g == 0 ? dw : partials.get() + (g - 1) * KRSC;
      const int64_t end = rows * (g + 1) / groups;
      for (int64_t r0 = rows * g / groups; r0 < end; r0 += rows_per_block) {
        const int64_t r1 = std::min(end, r0 + rows_per_block);
        im2col_rows(s, x, r0, r1, col.get());
        // The group's first block overwrites its partial, the later ones add to it. dy's rows are
        // contiguous across images, like the block's col rows.
        const bool first = r0 == rows * g / groups;
        sgemm(true, false, s.K, static_cast<int>(RSC), static_cast<int>((r1 - r0) * s.OW), 1.0f,
              dy + r0 * s.OW * s.K, col.get(), first ? 0.0f : 1.0f, out);
      }
    }
  });
  parallel_for(KRSC, kMinValuesPerThread, [&](int64_t i0, int64_t i1) {
    for (int g = 1; g < groups; ++g) {
      const float* __restrict part = partials.get() + (g - 1) * KRSC;
      for (int64_t i = i0; i < i1; ++i) dw[i] += part[i];
    }
  });
}

}  // namespace

Conv2dPacking conv2d_forward_packing(const Conv2dShape& s) {
  if (!direct::handles_forward(s)) return {};
  const direct::ForwardPacking p = direct::forward_packing(s);
  return {p.floats, p.width};
}

void conv2d_pack_forward_weights(const Conv2dShape& s, const float* w, float* packed) {
  if (direct::handles_forward(s)) direct::pack_forward_weights(s, w, packed);
}

void conv2d_forward_packed(const Conv2dShape& s, const float* x, const float* packed, const float* bias_or_null,
                           float* y) {
  if (!direct::handles_forward(s))
    throw std::invalid_argument("conv2d_forward_packed: this shape's forward takes no packed weights");
  direct::forward_packed(s, x, packed, bias_or_null, y);
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  if (direct::handles_forward(s)) return direct::forward(s, x, w, bias_or_null, y);  // unpadded layers
  const int64_t P = out_pixels(s), RSC = col_row_length(s);
  auto start_from_bias = [&](int64_t p0, int64_t p1) {  // output pixels [p0, p1) of the batch
    if (bias_or_null)
      for (int64_t p = p0; p < p1; ++p) std::memcpy(y + p * s.K, bias_or_null, sizeof(float) * s.K);
  };
  const float beta = bias_or_null ? 1.0f : 0.0f;  // the GEMM adds onto the bias already in y
  if (col_is_input(s)) {
    start_from_bias(0, s.N * P);
    sgemm(false, true, static_cast<int>(s.N * P), s.K, s.C, 1.0f, x, w, beta, y);
    return;
  }
  // Blocks of the batch's output rows whose col (~512 KB) stays in cache from im2col to the GEMM,
  // one block per thread at a time; the blocks do not depend on the thread count.
  const int64_t rows = block_rows(s, kColBudgetFloats / 2), all_rows = int64_t{s.N} * s.OH;
  parallel_for((all_rows + rows - 1) / rows, 1, [&](int64_t b0, int64_t b1) {
    auto col = scratch(rows * s.OW * RSC);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * rows, r1 = std::min(all_rows, r0 + rows);
      start_from_bias(r0 * s.OW, r1 * s.OW);
      im2col_rows(s, x, r0, r1, col.get());
      sgemm(false, true, static_cast<int>((r1 - r0) * s.OW), s.K, static_cast<int>(RSC), 1.0f, col.get(), w, beta,
            y + r0 * s.OW * s.K);
    }
  });
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null) {
  const int64_t P = out_pixels(s);
  if (dbias_or_null) column_sums(s.N * P, s.K, dy, dbias_or_null);
  if (dx_or_null && direct::handles_input_gradient(s)) {  // small unpadded layers: no im2col
    direct::input_gradient(s, w, dy, dx_or_null);
    dx_or_null = nullptr;
  }
  if (dw_or_null && direct::handles(s)) {
    direct::weight_gradient(s, x, dy, dw_or_null);
    dw_or_null = nullptr;
  }
  if (!dx_or_null && !dw_or_null) return;
  if (col_is_input(s)) {
    const int rows = static_cast<int>(s.N * P);
    if (dx_or_null) sgemm(false, false, rows, s.C, s.K, 1.0f, dy, w, 0.0f, dx_or_null);
    if (dw_or_null) sgemm(true, false, s.K, s.C, rows, 1.0f, dy, x, 0.0f, dw_or_null);
    return;
  }
  if (dx_or_null) input_gradient(s, w, dy, dx_or_null);
  if (dw_or_null) weight_gradient(s, x, dy, dw_or_null);
}

}  // namespace cpu
}  // namespace cxr::kernels
