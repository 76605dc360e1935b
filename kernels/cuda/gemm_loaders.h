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

// The kernel's tiles: 16 x 16 threads (32 x 8 for its tall tiles), each owning a micro-tile of I x J
// outputs (I, J in 1, 2, 4, 8), so a tile is (16 I) x (16 J) outputs (128 x 8 J); k-steps of 16.
// Full 64 x 64 tiles for large operands; a dimension of 32 or less gets a narrower tile instead of a
// 64-wide one mostly empty (a convolution of 16 channels wasted three quarters of every tile of its
// input gradient).
inline constexpr int kTileK = 16, kThreadsPerSide = 16, kGemmThreads = kThreadsPerSide * kThreadsPerSide;

// Loads per thread for an operand's tile of `width` (16, 32, 64 or 128) x kTileK elements.
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
  // ih0 in the high 16 bits, iw0 in the low 16, both signed: one register, not two (a tile holds up to
  // 4 of these a thread for the whole GEMM; the pipelined 64x32 forward spilled without this).
  int corner;
  CXR_HOST_DEVICE int ih0() const { return corner >> 16; }
  CXR_HOST_DEVICE int iw0() const { return static_cast<int16_t>(corner & 0xffff); }
};
struct Tap {     // a filter tap and channel (r, s, c)
  int r, s;
  int offset;    // (r * W + s) * C + c
};

// PixelOrigin's 16-bit corner: inputs up to 32767 pixels high and wide (kernels/cuda/conv2d.cu checks).
inline constexpr int kMaxIm2colSide = 32767;

struct Im2colIndex {
  Conv2dShape s;
  CXR_HOST_DEVICE PixelOrigin pixel(int p) const {
    const int ow = p % s.OW, t = p / s.OW, oh = t % s.OH, n = t / s.OH;
    const int ih0 = oh * s.stride_h - s.pad_top, iw0 = ow * s.stride_w - s.pad_left;
    return {((static_cast<int64_t>(n) * s.H + ih0) * s.W + iw0) * s.C,
            static_cast<int>(static_cast<uint32_t>(ih0) << 16 | static_cast<uint16_t>(iw0))};
  }
  CXR_HOST_DEVICE Tap tap(int rsc) const {
    const int c = rsc % s.C, rs = rsc / s.C, tap_s = rs % s.S, tap_r = rs / s.S;
    return {tap_r, tap_s, (tap_r * s.W + tap_s) * s.C + c};
  }
  CXR_HOST_DEVICE float value(const float* x, PixelOrigin p, Tap t) const {
    const int ih = p.ih0() + t.r, iw = p.iw0() + t.s;
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

// Input gradient, by stride phase. Input pixel (ih, iw) receives dy through filter tap (r, s) only
// when h = ih + pad_top and r leave the same remainder by stride_h (and w = iw + pad_left and s by
// stride_w); then the output pixel is (h / stride_h - r / stride_h, w / stride_w - s / stride_w). So
// the input pixels fall into stride_h x stride_w phases by those remainders (ph, pw), and a phase
// meets only the taps r = ph + stride_h r', s = pw + stride_w s'. One GEMM per phase:
//   dx_phase[pixel of the phase][c] = sum over (r', s', k) of dy(output pixel) w[k][r][s][c]
// computes no product that stride gaps make zero (one GEMM over all pixels and all R*S taps spent
// three quarters of a 5x5 stride-2 layer's products on them). With stride 1 the single phase is the
// whole input in order, and every tap.
struct StridePhase {
  int ph, pw;          // the remainders of h and w
  int ih0, iw0;        // the phase's first input row and column
  int rows, cols;      // its input rows and columns (ih = ih0 + stride_h i)
  int h_quot0, w_quot0;  // (ih0 + pad_top) / stride_h, (iw0 + pad_left) / stride_w
  int taps_r, taps_s;  // taps r' < taps_r, s' < taps_s
  CXR_HOST_DEVICE int pixels(const Conv2dShape& s) const { return s.N * rows * cols; }
};

CXR_HOST_DEVICE inline StridePhase stride_phase(const Conv2dShape& s, int ph, int pw) {
  // In 64 bits: `+ stride` overflowed an int for strides near 2^31 (Keras allows any).
  const auto first = [](int phase, int pad, int stride) {
    return static_cast<int>(((int64_t{phase} - pad) % stride + stride) % stride);
  };
  const auto count = [](int begin, int end, int stride) {
    return begin < end ? static_cast<int>((int64_t{end} - begin + stride - 1) / stride) : 0;
  };
  StridePhase p{};
  p.ph = ph;
  p.pw = pw;
  p.ih0 = first(ph, s.pad_top, s.stride_h);
  p.iw0 = first(pw, s.pad_left, s.stride_w);
  p.rows = count(p.ih0, s.H, s.stride_h);
  p.cols = count(p.iw0, s.W, s.stride_w);
  p.h_quot0 = (p.ih0 + s.pad_top) / s.stride_h;
  p.w_quot0 = (p.iw0 + s.pad_left) / s.stride_w;
  p.taps_r = count(ph, s.R, s.stride_h);
  p.taps_s = count(pw, s.S, s.stride_w);
  return p;
}

struct PhasePixel {  // an input pixel of the phase: the quotients h / stride_h, w / stride_w
  // Offset of dy (n, h_quot, w_quot, 0): the output pixel that tap (0, 0) would come from, possibly
  // past the image's edge (then a tap that comes from inside subtracts it back; the others read nothing).
  int64_t offset;
  // h_quot in the high 16 bits, w_quot in the low 16, as PixelOrigin's corner packs it: the tall
  // tiles hold 8 of these a thread for the whole GEMM. Both lie in 0..65533, the input's side and
  // padding being at most 32767 each (conv2d.cu checks).
  uint32_t quots;
  CXR_HOST_DEVICE int h_quot() const { return static_cast<int>(quots >> 16); }
  CXR_HOST_DEVICE int w_quot() const { return static_cast<int>(quots & 0xffff); }
};
struct PhaseTap {  // a tap of the phase and a filter: (r', s', k)
  int r, s;
  int64_t offset;  // k - (r' OW + s') K: from a PhasePixel's offset to dy at its output pixel through this tap
};

// A(m = pixel of the phase, k' = (r' * taps_s + s') * K + k): dy at the output pixel whose tap
// (ph + stride_h r', pw + stride_w s') lands on the pixel, 0 past the output's borders. The output
// pixel is (h_quot - r', w_quot - s'), so its offset is the row's offset plus the column's: one
// addition and two unsigned comparisons an element. (With the multiplications done per element,
// about 30 instructions a load, the gathered loads took four fifths of the input gradient's issued
// instructions: its 4 x 2 tall tiles ran at 56% of the SM's throughput on an H100, 2026-11-26.)
struct PhaseGradOutput {
  static constexpr bool kContiguousK = true;
  static constexpr bool kColTable = true;
  using Row = PhasePixel;
  using Col = PhaseTap;
  Conv2dShape s;
  StridePhase phase;
  const float* dy;
  CXR_HOST_DEVICE Row row(int m) const {
    const int j = m % phase.cols, t = m / phase.cols, i = t % phase.rows, n = t / phase.rows;
    const int h_quot = phase.h_quot0 + i, w_quot = phase.w_quot0 + j;
    return {((static_cast<int64_t>(n) * s.OH + h_quot) * s.OW + w_quot) * s.K,
            static_cast<uint32_t>(h_quot) << 16 | static_cast<uint32_t>(w_quot)};
  }
  CXR_HOST_DEVICE Col col(int kp) const {
    const int k = kp % s.K, rs = kp / s.K, r = rs / phase.taps_s, tap_s = rs % phase.taps_s;
    return {r, tap_s, k - (static_cast<int64_t>(r) * s.OW + tap_s) * s.K};
  }
  CXR_HOST_DEVICE float operator()(Row p, Col t) const {
    const unsigned oh = static_cast<unsigned>(p.h_quot() - t.r), ow = static_cast<unsigned>(p.w_quot() - t.s);
    if (oh >= static_cast<unsigned>(s.OH) || ow >= static_cast<unsigned>(s.OW)) return 0.0f;  // < 0 wraps
    return dy[p.offset + t.offset];
  }
};

// B(k' = (r' * taps_s + s') * K + k, n = c) = w[k][ph + stride_h r'][pw + stride_w s'][c].
struct PhaseWeight {
  static constexpr bool kContiguousK = false;
  static constexpr bool kColTable = true;
  using Row = int;
  using Col = int64_t;
  Conv2dShape s;
  StridePhase phase;
  const float* w;
  CXR_HOST_DEVICE Row row(int c) const { return c; }
  CXR_HOST_DEVICE Col col(int kp) const {
    // In 64 bits: the column table covers a whole tile step, so kp runs past the last tap, where
    // stride x (rs / taps_s) overflows an int at Keras's largest strides (the loads there are zeros).
    const int k = kp % s.K, rs = kp / s.K;
    const int64_t r = phase.ph + int64_t{s.stride_h} * (rs / phase.taps_s);
    const int64_t tap_s = phase.pw + int64_t{s.stride_w} * (rs % phase.taps_s);
    return ((static_cast<int64_t>(k) * s.R + r) * s.S + tap_s) * s.C;
  }
  CXR_HOST_DEVICE float operator()(Row r, Col c) const { return w[c + r]; }
};

}  // namespace cxr::kernels::cuda::detail
