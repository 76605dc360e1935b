// CPU convolution as im2col + GEMM. With NHWC activations and OHWI weights, one output pixel's
// receptive field is a row of R*S*C values laid out exactly like one filter row of w, so
//   y[pixels][K]      = col[pixels][RSC] . w[K][RSC]^T
//   dw[K][RSC]        = dy[pixels][K]^T . col[pixels][RSC]
//   dcol[pixels][RSC] = dy[pixels][K] . w[K][RSC]   (then col2im scatters dcol back onto dx)
// The weight gradient processes the images in chunks of as many as fit in kColBudgetFloats (at
// least one), so memory is bounded whatever the batch (a 128x128 batch of 32 would otherwise need a
// ~150 MB buffer).
// Threads (kernels/cpu/parallel.h): the forward pass and the input gradient go through blocks of
// one image's output pixels, one block per thread at a time, small enough that the im2col (or
// col2im) buffer stays in cache; the weight gradient sums over images in chunks, im2col splitting a
// chunk's rows and sgemm the product. Blocks and chunks never depend on the thread count, so only
// the split GEMMs (the weight gradient; 1x1 convolutions, which are a single GEMM) can differ in
// their last bits between thread counts (parallel.h).
// make_conv2d_shape and tf_window_padding live here too: they are host code shared by both backends.
#include "kernels/conv2d.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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
  const int out = (in + stride - 1) / stride;
  const int total = std::max((out - 1) * stride + window - in, 0);
  return {out, total / 2, total - total / 2};
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

// 1 MB, about one core's L2. Measured on experiment 1's layers: no slower than 4 MB, faster than 16 MB.
constexpr int64_t kColBudgetFloats = int64_t{1} << 18;

int64_t col_row_length(const Conv2dShape& s) { return static_cast<int64_t>(s.R) * s.S * s.C; }
int64_t out_pixels(const Conv2dShape& s) { return static_cast<int64_t>(s.OH) * s.OW; }
int64_t image_size(const Conv2dShape& s) { return static_cast<int64_t>(s.H) * s.W * s.C; }

int images_per_chunk(const Conv2dShape& s) {
  const int64_t per_image = out_pixels(s) * col_row_length(s);
  return static_cast<int>(std::clamp<int64_t>(kColBudgetFloats / std::max<int64_t>(per_image, 1), 1, s.N));
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

// im2col of `images` consecutive images, the threads splitting their output rows (a chunk is often
// a single image).
void im2col_images(const Conv2dShape& s, const float* x, int images, float* col) {
  const int64_t per_image = out_pixels(s) * col_row_length(s);
  parallel_for(int64_t{images} * s.OH, 2, [&](int64_t row0, int64_t row1) {
    for (int64_t row = row0; row < row1;) {  // row = image * OH + oh; a range may span images
      const int64_t i = row / s.OH;
      const int oh0 = static_cast<int>(row % s.OH), oh1 = static_cast<int>(std::min<int64_t>(row1 - i * s.OH, s.OH));
      im2col(s, x + i * image_size(s), col + i * per_image + int64_t{oh0} * s.OW * col_row_length(s), oh0, oh1);
      row = i * s.OH + oh1;
    }
  });
}

// sums[k] += dy[p][k] over all rows, in row order per channel (restrict: GCC vectorises it).
void channel_sums(int64_t rows, int K, const float* __restrict dy, double* __restrict sums) {
  for (int64_t p = 0; p < rows; ++p) {
    const float* __restrict row = dy + p * K;
    for (int k = 0; k < K; ++k) sums[k] += row[k];
  }
}

// Uninitialised scratch: im2col writes every entry, so zero-filling would be a wasted pass.
std::unique_ptr<float[]> scratch(int64_t n) { return std::make_unique_for_overwrite<float[]>(static_cast<size_t>(n)); }

// dx = col2im(dy . w), one image per thread at a time: col2im's windows overlap, so an image's dx
// must have a single writer. Each image goes through in blocks of output pixels whose dcol (~256 KB)
// stays in cache between the GEMM that writes it and the col2im that reads it. The blocks do not
// depend on the thread count, so neither do the bits.
void input_gradient(const Conv2dShape& s, const float* w, const float* dy, float* dx) {
  const int64_t P = out_pixels(s), RSC = col_row_length(s);
  const int64_t pixels_per_block = std::clamp<int64_t>((int64_t{1} << 16) / RSC, 1, P);
  parallel_for(s.N, 1, [&](int64_t n0, int64_t n1) {
    auto dcol = scratch(pixels_per_block * RSC);
    for (int64_t n = n0; n < n1; ++n) {
      float* dx_img = dx + n * image_size(s);
      std::fill(dx_img, dx_img + image_size(s), 0.0f);
      for (int64_t p0 = 0; p0 < P; p0 += pixels_per_block) {
        const int64_t p1 = std::min(P, p0 + pixels_per_block);
        sgemm(false, false, static_cast<int>(p1 - p0), static_cast<int>(RSC), s.K, 1.0f, dy + (n * P + p0) * s.K, w,
              0.0f, dcol.get());
        col2im_add(s, dcol.get(), dx_img, p0, p1);
      }
    }
  });
}

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  if (direct::handles(s)) return direct::forward(s, x, w, bias_or_null, y);  // RGB input layers
  const int64_t P = out_pixels(s), RSC = col_row_length(s);
  if (bias_or_null) {
    for (int64_t p = 0; p < s.N * P; ++p) std::memcpy(y + p * s.K, bias_or_null, sizeof(float) * s.K);
  }
  const float beta = bias_or_null ? 1.0f : 0.0f;  // the GEMM adds onto the bias already in y
  if (col_is_input(s)) {
    sgemm(false, true, static_cast<int>(s.N * P), s.K, s.C, 1.0f, x, w, beta, y);
    return;
  }
  // Blocks of whole output rows of one image whose col (~512 KB) stays in cache from im2col to the
  // GEMM, one block per thread at a time; the blocks do not depend on the thread count.
  const int rows_per_block = static_cast<int>(std::clamp<int64_t>((int64_t{1} << 17) / (s.OW * RSC), 1, s.OH));
  const int blocks_per_image = (s.OH + rows_per_block - 1) / rows_per_block;
  parallel_for(int64_t{s.N} * blocks_per_image, 1, [&](int64_t b0, int64_t b1) {
    auto col = scratch(int64_t{rows_per_block} * s.OW * RSC);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t n = b / blocks_per_image;
      const int oh0 = static_cast<int>(b % blocks_per_image) * rows_per_block;
      const int oh1 = std::min(s.OH, oh0 + rows_per_block);
      im2col(s, x + n * image_size(s), col.get(), oh0, oh1);
      sgemm(false, true, (oh1 - oh0) * s.OW, s.K, static_cast<int>(RSC), 1.0f, col.get(), w, beta,
            y + (n * P + int64_t{oh0} * s.OW) * s.K);
    }
  });
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null) {
  const int64_t P = out_pixels(s), RSC = col_row_length(s);
  if (dbias_or_null) {
    std::vector<double> sums(s.K, 0.0);  // double: the CPU result is the reference the GPU is compared with
    // Blocks of 512 rows, so the sum's order (and bits) do not depend on the thread count.
    const int64_t min_blocks_per_thread = std::max(1, 128 / s.K);  // 64K elements
    blocked_sums(
        s.N * P, 512, min_blocks_per_thread, s.K,
        [&](int64_t m0, int64_t m1, double* partial) { channel_sums(m1 - m0, s.K, dy + m0 * s.K, partial); },
        sums.data());
    for (int k = 0; k < s.K; ++k) dbias_or_null[k] = static_cast<float>(sums[k]);
  }
  if (dw_or_null && direct::handles(s)) {  // RGB input layers: the weight gradient without im2col
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
  if (!dw_or_null) return;
  const int chunk = images_per_chunk(s);
  auto col = scratch(chunk * P * RSC);
  for (int n0 = 0; n0 < s.N; n0 += chunk) {
    const int images = std::min(chunk, s.N - n0);
    im2col_images(s, x + n0 * image_size(s), images, col.get());
    // The first chunk overwrites dw, the later ones add to it.
    sgemm(true, false, s.K, static_cast<int>(RSC), static_cast<int>(images * P), 1.0f, dy + n0 * P * s.K, col.get(),
          n0 == 0 ? 0.0f : 1.0f, dw_or_null);
  }
}

}  // namespace cpu
}  // namespace cxr::kernels
