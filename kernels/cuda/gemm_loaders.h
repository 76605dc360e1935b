// Loaders of the tiled SGEMM (kernels/cuda/tiled_gemm.cuh): how its kernel reads element (i, k) of an
// operand (A: i = m, the output row; B: i = n, the output column; k runs along the reduction) from a
// plain matrix, possibly transposed, or from an image gathered as im2col would have laid it out.
//
// Each loader splits the index arithmetic in two stages, so the costly part (integer divisions that
// take an output pixel or a filter tap apart) is done once, not per element:
//   Row row(int i)                   once per thread before the k loop: a thread's i never changes;
//   Col col(int k)                   once per k of a tile step (a table in shared memory when
//                                    kColTable: 16 threads fill it, the others read it);
//   float operator()(Row, Col)       per element: a bounds test and one load.
// The first version did all of it per element: six integer divisions for each im2col value, which
// held the custom convolution backward to 15-30% of cuDNN's speed on an H200.
//
// kContiguousK says whether consecutive k sit next to each other in memory (else consecutive rows i
// do), so that the kernel lays a warp's loads along them. Host and device code: tests/kernels checks every
// index of the convolution loaders on the CPU against the plain im2col formulas.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/conv2d.h"

#if defined(__CUDACC__)
#define CXR_HOST_DEVICE __host__ __device__
#else
#define CXR_HOST_DEVICE
#endif

namespace cxr::kernels::cuda::detail {

// The kernel's tiles: 16 x 16 threads, each owning a micro-tile of I x J outputs (I, J in 1, 2, 4, 8),
// so a tile is (16 I) x (16 J) outputs; k-steps of 16. Full 64 x 64 tiles for large operands; a
// dimension of 32 or less gets a narrower tile instead of a 64-wide one mostly empty (a convolution
// of 16 channels wasted three quarters of every tile of its input gradient).
inline constexpr int kTileK = 16, kThreadsPerSide = 16, kGemmThreads = kThreadsPerSide * kThreadsPerSide;

// Loads per thread for an operand's tile of `width` (16, 32 or 64) x kTileK elements.
CXR_HOST_DEVICE constexpr int tile_loads(int width) { return width * kTileK / kGemmThreads; }

// Which element of a `width`-wide x 16-deep tile step thread `tid` loads as its load number `i`:
// along the tile's width (`wide`: the operand's row index, m for A, n for B) and along k (`deep`).
// Laid so that consecutive threads read consecutive addresses: along k when k is the operand's
// contiguous index (then a thread's loads share one k and cover several rows), else along the width
// (one row, several values of k).
CXR_HOST_DEVICE constexpr int tile_wide(bool contiguous_k, int width, int tid, int i) {
  return contiguous_k ? tid / kTileK + (kGemmThreads / kTileK) * i : tid % width;
}
CXR_HOST_DEVICE constexpr int tile_deep(bool contiguous_k, int width, int tid, int i) {
  return contiguous_k ? tid % kTileK : tid / width + (kGemmThreads / width) * i;
}

// ---------------------------------------------------------------------------------------------------
// Plain row-major matrices: element (i, k) at p[i * ld + k] when k is the contiguous index, else at
// p[k * ld + i]. Row and Col are the two halves of the offset. A is [M][K] ([K][M] when transposed),
// B is [K][N] ([N][K] when transposed).
// ---------------------------------------------------------------------------------------------------
template <bool kAlongK>
struct MatrixOperand {
  static constexpr bool kContiguousK = kAlongK;
  static constexpr bool kColTable = false;
  using Row = int64_t;
  using Col = int64_t;
  const float* p;
  int ld;
  CXR_HOST_DEVICE Row row(int i) const { return kAlongK ? static_cast<int64_t>(i) * ld : i; }
  CXR_HOST_DEVICE Col col(int k) const { return kAlongK ? k : static_cast<int64_t>(k) * ld; }
  CXR_HOST_DEVICE float operator()(Row r, Col c) const { return p[r + c]; }
};
template <bool kTrans>
using MatrixA = MatrixOperand<!kTrans>;  // ld = K, or M when transposed
template <bool kTrans>
using MatrixB = MatrixOperand<kTrans>;  // ld = N, or K when transposed

// ---------------------------------------------------------------------------------------------------
// The convolution's implicit im2col: col(x)(pixel, (r*S + s)*C + c) is the input value that filter
// tap (r, s) sees at output pixel `pixel` (0 in the padding). Consecutive rsc are consecutive
// channels: contiguous in NHWC.
// ---------------------------------------------------------------------------------------------------
struct PixelOrigin {  // an output pixel: the input row and column its window starts at
  int64_t base;       // offset of input (n, ih0, iw0, 0): may lie outside x when the window starts in padding
  int ih0, iw0;
};
struct Tap {     // a filter tap and channel (r, s, c)
  int r, s;
  int offset;    // (r * W + s) * C + c
};

struct Im2colIndex {
  Conv2dShape s;
  CXR_HOST_DEVICE PixelOrigin pixel(int p) const {
    const int ow = p % s.OW, t = p / s.OW, oh = t % s.OH, n = t / s.OH;
    const int ih0 = oh * s.stride_h - s.pad_top, iw0 = ow * s.stride_w - s.pad_left;
    return {((static_cast<int64_t>(n) * s.H + ih0) * s.W + iw0) * s.C, ih0, iw0};
  }
  CXR_HOST_DEVICE Tap tap(int rsc) const {
    const int c = rsc % s.C, rs = rsc / s.C, tap_s = rs % s.S, tap_r = rs / s.S;
    return {tap_r, tap_s, (tap_r * s.W + tap_s) * s.C + c};
  }
  CXR_HOST_DEVICE float value(const float* x, PixelOrigin p, Tap t) const {
    const int ih = p.ih0 + t.r, iw = p.iw0 + t.s;
    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) return 0.0f;
    return x[p.base + t.offset];
  }
};

// The im2col matrix as a GEMM operand: A(m = output pixel, k = rsc) in the forward (kPixelIsRow),
// B(k = output pixel, n = rsc) in the weight gradient. Either way rsc is the contiguous index.
template <bool kPixelIsRow>
struct Im2colOperand {
  static constexpr bool kContiguousK = kPixelIsRow;
  static constexpr bool kColTable = true;
  using Row = std::conditional_t<kPixelIsRow, PixelOrigin, Tap>;
  using Col = std::conditional_t<kPixelIsRow, Tap, PixelOrigin>;
  Im2colIndex index;
  const float* x;
  CXR_HOST_DEVICE Row row(int i) const {
    if constexpr (kPixelIsRow) return index.pixel(i);
    else return index.tap(i);
  }
  CXR_HOST_DEVICE Col col(int k) const {
    if constexpr (kPixelIsRow) return index.tap(k);
    else return index.pixel(k);
  }
  CXR_HOST_DEVICE float operator()(Row r, Col c) const {
    if constexpr (kPixelIsRow) return index.value(x, r, c);
    else return index.value(x, c, r);
  }
};
using Im2colA = Im2colOperand<true>;
using Im2colB = Im2colOperand<false>;

// The convolution's other operands are plain matrices: the forward's B(k = rsc, n = filter) = w[n][rsc]
// is MatrixB<true>{w, rsc}, the weight gradient's A(m = filter, k = pixel) = dy[pixel][m] is
// MatrixA<true>{dy, K}.

// Input gradient, A(m = input pixel, k' = (r*S + s)*K + k): dy at the output pixel whose tap (r, s)
// lands on the input pixel, or 0 when none does (stride gaps, borders). With h = ih + pad_top, the
// tap r reaches output row oh = (h - r) / stride_h when h - r is a non-negative multiple of the
// stride, that is when h and r leave the same remainder; then oh = h / stride - r / stride exactly.
// So both halves keep quotient and remainder, and no element needs a division.
struct InputPixel {
  int64_t base;  // offset of dy (n, 0, 0, 0)
  int h_quot, h_rem, w_quot, w_rem;
};
struct OutputTap {
  int r_quot, r_rem, s_quot, s_rem;
  int k;
};

struct GradOutputGather {
  static constexpr bool kContiguousK = true;
  static constexpr bool kColTable = true;
  using Row = InputPixel;
  using Col = OutputTap;
  Conv2dShape s;
  const float* dy;
  CXR_HOST_DEVICE Row row(int m) const {
    const int iw = m % s.W, t = m / s.W, ih = t % s.H, n = t / s.H;
    const int h = ih + s.pad_top, w = iw + s.pad_left;
    return {static_cast<int64_t>(n) * s.OH * s.OW * s.K, h / s.stride_h, h % s.stride_h, w / s.stride_w,
            w % s.stride_w};
  }
  CXR_HOST_DEVICE Col col(int kp) const {
    const int k = kp % s.K, rs = kp / s.K, tap_s = rs % s.S, tap_r = rs / s.S;
    return {tap_r / s.stride_h, tap_r % s.stride_h, tap_s / s.stride_w, tap_s % s.stride_w, k};
  }
  CXR_HOST_DEVICE float operator()(Row p, Col t) const {
    if (p.h_rem != t.r_rem || p.w_rem != t.s_rem) return 0.0f;
    const int oh = p.h_quot - t.r_quot, ow = p.w_quot - t.s_quot;
    if (oh < 0 || oh >= s.OH || ow < 0 || ow >= s.OW) return 0.0f;
    return dy[p.base + (static_cast<int64_t>(oh) * s.OW + ow) * s.K + t.k];
  }
};

// Input gradient, B(k' = (r*S + s)*K + k, n = c) = w[k][r][s][c].
struct WeightTap {
  static constexpr bool kContiguousK = false;
  static constexpr bool kColTable = true;
  using Row = int;
  using Col = int64_t;
  Conv2dShape s;
  const float* w;
  CXR_HOST_DEVICE Row row(int c) const { return c; }
  CXR_HOST_DEVICE Col col(int kp) const {
    const int k = kp % s.K, rs = kp / s.K;
    return (static_cast<int64_t>(k) * s.R * s.S + rs) * s.C;
  }
  CXR_HOST_DEVICE float operator()(Row r, Col c) const { return w[c + r]; }
};

}  // namespace cxr::kernels::cuda::detail
