// Direct convolution (kernels/cpu/conv2d_direct.h): the three passes as implicit GEMMs, each output
// tile accumulated in vector registers over the whole reduction and written once. GCC vector
// extensions rather than intrinsics, so the code stays portable: 8 floats, each entry point with an
// x86-64-v3 clone (AVX2 + FMA) picked at load time where the CPU has it; and 16 floats, compiled for
// x86-64-v4 (AVX-512) and run where the CPU has that (set_avx512), falling back to 8 floats where K
// is not a multiple of 16 and for an input-gradient run's last 8 taps. Both widths give the same
// bits: a vector's lanes are filters (forward, weight gradient) or taps (input gradient), never terms
// of one sum; the input gradient keeps its 6-pixel tiles (overlapping windows add into dx tile by
// tile); and both contract into FMAs alike (kernels/CMakeLists.txt keeps GCC from splitting 512-bit
// FMAs under Zen 5 tuning). Zen 5 runs two 16-float FMAs a cycle where Zen 4 splits each in two, so
// there the wide kernels do up to twice the work a cycle (docs/benchmarks.md, session 23); on Zen 4
// and on Intel parts they are unmeasured.
// Sums run in another order than im2col + OpenBLAS: equal within float rounding, not bitwise.
//
// Why not im2col + OpenBLAS here: on experiment 1's 5x5 layers that path spent a third of its time
// outside the GEMM's inner kernel (copying windows into col, OpenBLAS packing col again, zeroing the
// input gradient's 12x larger dcol before accumulating into it, col2im). Measured on experiment 1
// (2-core EPYC, 2 threads), before -> after: see docs/benchmarks.md. The forward pass of 1x1 layers
// and of large weights came later (session 24): on ResNet50V2's layers it runs 1.3-2.2x as fast as
// OpenBLAS's AVX2 kernels (which the dev VM's OPENBLAS_CORETYPE=Haswell picks) and about as fast as
// its AVX-512 ones, where im2col + OpenBLAS had been the faster path.
#include "kernels/cpu/conv2d_direct.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/target_clones.h"
#include "kernels/env_setting.h"

// The vector helpers below are always inlined, so no vector ever crosses a call: GCC's warning that
// such a return "changes the ABI" without AVX does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#define CXR_DIRECT_CLONES CXR_TARGET_CLONES("arch=x86-64-v3", "default")
#define CXR_DIRECT_AVX512 [[gnu::target("arch=x86-64-v4")]]

namespace cxr::kernels::cpu::direct {
namespace {
using v8 = float __attribute__((vector_size(32)));
using v16 = float __attribute__((vector_size(64)));
template <typename V>
constexpr int kLanes = sizeof(V) / sizeof(float);

template <typename V>
[[gnu::always_inline]] inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
[[gnu::always_inline]] inline void store(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}

// Weights above this many floats (1 MB) no longer stay in L2, and a direct tile reads all of them
// once per few pixels, while OpenBLAS packs them once per block of >= 128 pixels. Measured on
// ResNet's 3x3 layers with 8-float tiles: 147K weights (128 channels) direct is faster both ways,
// 590K (256 channels) is 1.4x slower backward, 2.4M (512 channels) 3-4x slower. Their gradients go
// through im2col + GEMM; their forward pass blocks like a GEMM (forward_large below).
constexpr int64_t kMaxWeights = int64_t{1} << 18;

int64_t taps_of(const Conv2dShape& s) { return int64_t{s.R} * s.S * s.C; }
int64_t pixels_of(const Conv2dShape& s) { return int64_t{s.OH} * s.OW; }
int64_t image_of(const Conv2dShape& s) { return int64_t{s.H} * s.W * s.C; }

// Where each output pixel's window starts in its image: (oh*stride_h*W + ow*stride_w)*C for the
// OH*OW pixels of one image. Pixel p of the batch is image p / (OH*OW), window offset[p % (OH*OW)].
// Tables instead of divisions: a division per pixel cost as much as the pixel's arithmetic.
std::vector<int64_t> window_offsets(const Conv2dShape& s) {
  std::vector<int64_t> off(static_cast<size_t>(pixels_of(s)));
  for (int oh = 0; oh < s.OH; ++oh)
    for (int ow = 0; ow < s.OW; ++ow)
      off[static_cast<size_t>(oh) * s.OW + ow] =
          (static_cast<int64_t>(oh) * s.stride_h * s.W + static_cast<int64_t>(ow) * s.stride_w) * s.C;
  return off;
}

// Walks the batch's pixels in order from pixel p, giving each one's window start (as an offset into
// the batch's input) without a division: two per pixel cost as much as conv1's whole 6-pixel tile.
class WindowWalker {
 public:
  WindowWalker(const Conv2dShape& s, const int64_t* offsets, int64_t p)
      : offsets_(offsets), pixels_(pixels_of(s)), image_(image_of(s)), n_(p / pixels_), q_(p % pixels_) {}
  int64_t next() {
    const int64_t at = n_ * image_ + offsets_[q_];
    if (++q_ == pixels_) q_ = 0, ++n_;
    return at;
  }

 private:
  const int64_t* offsets_;
  int64_t pixels_, image_, n_, q_;
};

// ---- forward ------------------------------------------------------------------------------------
// y[pixel][k] = bias[k] + sum over taps t = (r, sx, c) of x[window + r*W*C + sx*C + c] * w[k][t]
// Weights as panels of `width` filters, [panel][tap][width]: a tile streams one panel in order.
// Taps [t0, t1) of the filters [kb, kb + width) into panel[t - t0][width], filter by filter: each
// reads a run of its row that the prefetcher follows, and the panel takes the strided writes in
// cache. (By 16 taps of each filter in turn, the rows' cache lines came from memory one at a time: a
// quarter of a 3x3x512 layer's time; tap by tap, rows 4 KB apart at 1,024 channels evicted each
// other from their shared L1 set; filter by filter over a whole panel, each write was a cache line
// away from the last: at 2M weights the packing cost more than the convolution.)
[[gnu::always_inline]] inline void pack_panel(const float* w, int64_t taps, int width, int kb, int64_t t0,
                                              int64_t t1, float* panel) {
  for (int i = 0; i < width; ++i) {
    const float* row = w + (kb + i) * taps;
    for (int64_t t = t0; t < t1; ++t) panel[(t - t0) * width + i] = row[t];
    // The row's next block (forward_large's items) on its way to L2 while this one's tiles run.
    for (int64_t t = t1; t < std::min(taps, 2 * t1 - t0); t += 16) __builtin_prefetch(row + t, 0, 2);
  }
}

// Every filter's taps as panels, taps * K floats into panels.
void pack_filter_panels(const Conv2dShape& s, const float* w, int width, float* panels) {
  const int64_t taps = taps_of(s);
  // Threads only for the larger weights: a parallel region costs more than a few small panels.
  parallel_for(s.K / width, std::max<int64_t>(1, (int64_t{1} << 16) / (taps * width)), [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j)
      pack_panel(w, taps, width, static_cast<int>(j * width), 0, taps, panels + j * taps * width);
  });
}
std::vector<float> filter_panels(const Conv2dShape& s, const float* w, int width) {
  std::vector<float> panels(static_cast<size_t>(taps_of(s) * s.K));
  pack_filter_panels(s, w, width, panels.data());
  return panels;
}

// PB pixels (windows win[]) times KV vectors of L filters (panel, starting at filter kb),
// accumulated in registers over every tap, then written with the bias. y points at the first
// pixel's outputs. kRun: a filter row's taps (S*C) where known when compiling, else 0.
template <typename V, int KV, int kRun, int PB>
[[gnu::always_inline]] inline void forward_tile(const Conv2dShape& s, const float* const* win, const float* panel,
                                                const float* bias, int kb, float* y) {
  constexpr int L = kLanes<V>;
  V acc[PB][KV];
  for (int q = 0; q < KV; ++q) {
    const V b = bias ? load<V>(bias + kb + L * q) : V{};
    for (int p = 0; p < PB; ++p) acc[p][q] = b;
  }
  const int64_t row = int64_t{s.W} * s.C;
  const float* wp = panel;
  // One tap: a vector of weights and PB broadcasts of inputs, j from the row's start.
  auto tap = [&](const float* const* xr, int64_t j) [[gnu::always_inline]] {
    V wv[KV];
    for (int q = 0; q < KV; ++q) wv[q] = load<V>(wp + L * q);
    for (int p = 0; p < PB; ++p) {
      const float xv = xr[p][j];
      for (int q = 0; q < KV; ++q) acc[p][q] += xv * wv[q];
    }
    wp += L * KV;
  };
  for (int r = 0; r < s.R; ++r) {
    const float* xr[PB];
    for (int p = 0; p < PB; ++p) xr[p] = win[p] + r * row;
    if constexpr (kRun > 0) {
      // Unrolled over a known row (RGB inputs' 5x5: 15 taps): every input an immediate offset from
      // its pixel's pointer, no index or loop test between the FMAs.
#pragma GCC unroll 64
      for (int j = 0; j < kRun; ++j) tap(xr, j);
    } else {
      const int64_t run = int64_t{s.S} * s.C;  // in NHWC a filter row is one run
      for (int64_t j = 0; j < run; ++j) tap(xr, j);
    }
  }
  for (int p = 0; p < PB; ++p)
    for (int q = 0; q < KV; ++q) store(y + p * s.K + kb + L * q, acc[p][q]);
}

// Pixels [p0, p1) of the batch: tiles of PB, then the smaller ones of Rest. Always inlined into each
// clone of the dispatch function and its AVX-512 twin, so the whole loop nest is compiled for its
// target (a plain template would be compiled once, for the baseline, and called from all of them).
template <typename V, int KV, int kRun, int PB, int... Rest>
[[gnu::always_inline]] inline void forward_pixels(const Conv2dShape& s, const float* x, const float* panels,
                                                  const float* bias, WindowWalker& walker, float* y, int64_t& p,
                                                  int64_t p1) {
  constexpr int width = kLanes<V> * KV;  // filters a tile: the panels' width
  const int64_t panel_size = taps_of(s) * width;
  for (; p + PB <= p1; p += PB) {
    const float* win[PB];
    for (int i = 0; i < PB; ++i) win[i] = x + walker.next();
    for (int kb = 0; kb < s.K; kb += width)
      forward_tile<V, KV, kRun, PB>(s, win, panels + (kb / width) * panel_size, bias, kb, y + p * s.K);
  }
  if constexpr (sizeof...(Rest) > 0) forward_pixels<V, KV, kRun, Rest...>(s, x, panels, bias, walker, y, p, p1);
}

// forward_pixels with the row's length compiled in where it is RGB 5x5's (experiments 1-3's first
// layers: 15 taps), else read from s. 5-8% off those layers' forward with 16-float tiles (12 pixels,
// one pointer each: no register left for an index); the 8-float tiles gained nothing, so keep the loop.
template <typename V, int KV, int... Tiles>
[[gnu::always_inline]] inline void forward_rows(const Conv2dShape& s, const float* x, const float* panels,
                                                const float* bias, WindowWalker& walker, float* y, int64_t p0,
                                                int64_t p1) {
  if (s.S * s.C == 15) forward_pixels<V, KV, 15, Tiles...>(s, x, panels, bias, walker, y, p0, p1);
  else forward_pixels<V, KV, 0, Tiles...>(s, x, panels, bias, walker, y, p0, p1);
}

// Called once per thread's range of pixels: the parallel loop stays outside the clones, since a
// lambda inside one would be compiled for the baseline target only. 12 accumulators (8 where K is
// not a multiple of 16): enough independent FMAs in flight to cover their latency on two FMA pipes.
CXR_DIRECT_CLONES void forward_dispatch(const Conv2dShape& s, const float* x, const float* panels, const float* bias,
                                        const int64_t* offsets, float* y, int64_t p0, int64_t p1) {
  WindowWalker walker(s, offsets, p0);
  if (s.K % 16 == 0) forward_pixels<v8, 2, 0, 6, 3, 1>(s, x, panels, bias, walker, y, p0, p1);
  else forward_pixels<v8, 1, 0, 8, 3, 1>(s, x, panels, bias, walker, y, p0, p1);
}
// The same with 16-float vectors: 12 pixels by 32 filters (the panels' width) in 24 of AVX-512's 32
// registers, or by 16 where K is a multiple of 16 only, and 8-float tiles where it is not; then
// tiles of 8 and 4 pixels before the last few (their few accumulators leave the FMAs waiting).
CXR_DIRECT_AVX512 void forward_dispatch_avx512(const Conv2dShape& s, const float* x, const float* panels,
                                               const float* bias, const int64_t* offsets, float* y, int64_t p0,
                                               int64_t p1) {
  WindowWalker walker(s, offsets, p0);
  if (s.K % 32 == 0) forward_rows<v16, 2, 12, 8, 4, 1>(s, x, panels, bias, walker, y, p0, p1);
  else if (s.K % 16 == 0) forward_rows<v16, 1, 12, 8, 4, 1>(s, x, panels, bias, walker, y, p0, p1);
  else forward_pixels<v8, 1, 0, 8, 3, 1>(s, x, panels, bias, walker, y, p0, p1);
}

// ---- forward, large weights --------------------------------------------------------------------
// Over kMaxWeights (ResNet's last stages) the weights no longer stay in L2: a tile that streams all
// of them for 12 pixels waits on memory, and so does a pass that repacks them all into panels
// first (9.4 MB written and read back at 3x3x512). So these layers block like a GEMM. A work item is
// a group of filters times a range of pixels; for each block of kTapBlock taps it packs the group's
// weights into panels in a buffer of its own (<= 512 KB: L2), then each tile of pixels copies its
// windows' taps into rows of kTapBlock floats and runs every panel off them. The copy also keeps the
// broadcasts' rows 1 KB apart: in place, a tile's windows at 1,024 or 2,048 channels lie 4 or 8 KB
// apart, share their L1 sets and evict one another.
constexpr int64_t kTapBlock = 256;     // 12 pixels' rows: 12 KB; a 32-filter panel's block: 32 KB
constexpr int64_t kMaxGroupPanels = 16;  // 16 such blocks: 512 KB

// Copies taps [t0, t1) of PB windows into xs[p][t - t0], rows of kTapBlock floats.
template <int PB>
[[gnu::always_inline]] inline void pack_windows(const Conv2dShape& s, const float* const* win, int64_t t0,
                                                int64_t t1, float* xs) {
  const int64_t run = int64_t{s.S} * s.C, row = int64_t{s.W} * s.C;
  for (int p = 0; p < PB; ++p)
    for (int64_t r = t0 / run, j = t0 % run, t = t0; t < t1; ++r, j = 0) {  // tap t is j of filter row r
      const int64_t n = std::min(run - j, t1 - t);
      std::memcpy(xs + p * kTapBlock + (t - t0), win[p] + r * row + j, sizeof(float) * n);
      t += n;
    }
}

// forward_tile over `taps` packed taps (xs's rows, a panel's block wp), from the bias where `first`,
// else from the partial sums in y: each sum continues in tap order, so the bits are those of one
// pass over all the taps.
template <typename V, int KV, int PB>
[[gnu::always_inline]] inline void packed_tile(const Conv2dShape& s, const float* xs, const float* wp, int64_t taps,
                                               const float* bias, bool first, int kb, float* y) {
  constexpr int L = kLanes<V>;
  V acc[PB][KV];
  for (int q = 0; q < KV; ++q) {
    const V b = bias && first ? load<V>(bias + kb + L * q) : V{};
    for (int p = 0; p < PB; ++p) acc[p][q] = first ? b : load<V>(y + p * s.K + kb + L * q);
  }
  for (int64_t t = 0; t < taps; ++t, wp += L * KV) {
    V wv[KV];
    for (int q = 0; q < KV; ++q) wv[q] = load<V>(wp + L * q);
    for (int p = 0; p < PB; ++p) {
      const float xv = xs[p * kTapBlock + t];
      for (int q = 0; q < KV; ++q) acc[p][q] += xv * wv[q];
    }
  }
  for (int p = 0; p < PB; ++p)
    for (int q = 0; q < KV; ++q) store(y + p * s.K + kb + L * q, acc[p][q]);
}

// Pixels [p, p1) times the filters [k0, k1) whose panels' blocks are in `panels`, over taps
// [t0, t1): tiles of PB, then the smaller tiles of Rest.
template <typename V, int KV, int PB, int... Rest>
[[gnu::always_inline]] inline void packed_pixels(const Conv2dShape& s, const float* x, const float* panels,
                                                 const float* bias, WindowWalker& walker, float* y, int64_t& p,
                                                 int64_t p1, int k0, int k1, int64_t t0, int64_t t1, float* xs) {
  constexpr int width = kLanes<V> * KV;
  for (; p + PB <= p1; p += PB) {
    const float* win[PB];
    for (int i = 0; i < PB; ++i) win[i] = x + walker.next();
    pack_windows<PB>(s, win, t0, t1, xs);
    for (int kb = k0; kb < k1; kb += width)
      packed_tile<V, KV, PB>(s, xs, panels + (kb - k0) * kTapBlock, t1 - t0, bias, t0 == 0, kb, y + p * s.K);
  }
  if constexpr (sizeof...(Rest) > 0)
    packed_pixels<V, KV, Rest...>(s, x, panels, bias, walker, y, p, p1, k0, k1, t0, t1, xs);
}

// One work item: pixels [p0, p1) times filters [k0, k1), block by block of taps. panels: room for
// the group's blocks, (k1 - k0) * kTapBlock floats; xs: 12 rows of kTapBlock. With prepacked (all
// the weights packed ahead in pack_forward_weights' block-major layout) each block's panels are read
// from there and panels goes unused.
template <typename V, int KV, int PB, int... Rest>
[[gnu::always_inline]] inline void large_item(const Conv2dShape& s, const float* x, const float* w,
                                              const float* prepacked, const float* bias, const int64_t* offsets,
                                              float* y, int64_t p0, int64_t p1, int k0, int k1, float* panels,
                                              float* xs) {
  constexpr int width = kLanes<V> * KV;
  const int64_t taps = taps_of(s);
  for (int64_t t0 = 0; t0 < taps; t0 += kTapBlock) {
    const int64_t t1 = std::min(taps, t0 + kTapBlock);
    const float* block = prepacked ? prepacked + (t0 / kTapBlock) * s.K * kTapBlock + k0 * kTapBlock : panels;
    if (!prepacked)
      for (int kb = k0; kb < k1; kb += width) pack_panel(w, taps, width, kb, t0, t1, panels + (kb - k0) * kTapBlock);
    WindowWalker walker(s, offsets, p0);
    int64_t p = p0;
    packed_pixels<V, KV, PB, Rest...>(s, x, block, bias, walker, y, p, p1, k0, k1, t0, t1, xs);
  }
}

// The tiles and widths of forward_dispatch and its twin.
CXR_DIRECT_CLONES void large_dispatch(const Conv2dShape& s, const float* x, const float* w, const float* prepacked,
                                      const float* bias, const int64_t* offsets, float* y, int64_t p0, int64_t p1,
                                      int k0, int k1, float* panels, float* xs) {
  if (s.K % 16 == 0) large_item<v8, 2, 6, 3, 1>(s, x, w, prepacked, bias, offsets, y, p0, p1, k0, k1, panels, xs);
  else large_item<v8, 1, 8, 3, 1>(s, x, w, prepacked, bias, offsets, y, p0, p1, k0, k1, panels, xs);
}
CXR_DIRECT_AVX512 void large_dispatch_avx512(const Conv2dShape& s, const float* x, const float* w,
                                             const float* prepacked, const float* bias, const int64_t* offsets,
                                             float* y, int64_t p0, int64_t p1, int k0, int k1, float* panels,
                                             float* xs) {
  // Tiles of 8 and 4 before the last few pixels: ResNet's last stage has 128 a batch, and its tiles
  // of 3 and 1 (too few accumulators to hide the FMAs' latency) cost a fifth of its time.
  if (s.K % 32 == 0)
    large_item<v16, 2, 12, 8, 4, 1>(s, x, w, prepacked, bias, offsets, y, p0, p1, k0, k1, panels, xs);
  else if (s.K % 16 == 0)
    large_item<v16, 1, 12, 8, 4, 1>(s, x, w, prepacked, bias, offsets, y, p0, p1, k0, k1, panels, xs);
  else large_item<v8, 1, 8, 3, 1>(s, x, w, prepacked, bias, offsets, y, p0, p1, k0, k1, panels, xs);
}

// ---- input gradient -----------------------------------------------------------------------------
// dx[window + r*W*C + j] += sum over k of dy[pixel][k] * w[k][r][j], j running over a filter row's
// S*C taps (contiguous in NHWC), so each pixel's contribution is a scatter-add of R runs.
// Weights as [r][block of 16 taps of the run (the last may be 8)][k][16 or 8].
std::vector<float> run_panels(const Conv2dShape& s, const float* w) {
  const int64_t run = int64_t{s.S} * s.C, taps = taps_of(s);
  std::vector<float> panels(static_cast<size_t>(taps * s.K));
  for (int r = 0; r < s.R; ++r)
    for (int64_t j0 = 0; j0 < run; j0 += 16) {
      const int64_t width = std::min<int64_t>(16, run - j0);
      float* out = panels.data() + r * s.K * run + j0 * s.K;
      for (int k = 0; k < s.K; ++k)
        for (int64_t i = 0; i < width; ++i) out[k * width + i] = w[k * taps + r * run + j0 + i];
    }
  return panels;
}

// PB pixels (gradients g[], windows win[] in dx) times JV vectors of L taps of filter row r from j0.
template <typename V, int JV, int PB>
[[gnu::always_inline]] inline void input_tile(const Conv2dShape& s, const float* const* g, float* const* win,
                                              const float* panel, int64_t at) {
  constexpr int L = kLanes<V>;
  V acc[PB][JV] = {};
  for (int k = 0; k < s.K; ++k) {
    V wv[JV];
    for (int q = 0; q < JV; ++q) wv[q] = load<V>(panel + k * L * JV + L * q);
    for (int p = 0; p < PB; ++p) {
      const float gv = g[p][k];
      for (int q = 0; q < JV; ++q) acc[p][q] += gv * wv[q];
    }
  }
  // One pixel after another: neighbouring windows overlap when the stride is below the filter.
  for (int p = 0; p < PB; ++p)
    for (int q = 0; q < JV; ++q) {
      float* d = win[p] + at + L * q;
      store(d, load<V>(d) + acc[p][q]);
    }
}

// V: the vector of a 16-tap block (two v8 or one v16); a run's last 8 taps, if any, go by v8.
// NB consecutive 16-tap blocks of a run at once in 16-float vectors (NB x PB accumulators where one
// block has PB, too few to cover the FMA's latency), added into dx block by block, each block pixel
// by pixel: every dx element gets its terms in the order the one-block tiles add them.
template <int NB, int PB>
[[gnu::always_inline]] inline void input_tile_blocks(const Conv2dShape& s, const float* const* g, float* const* win,
                                                     const float* panel, int64_t at) {
  v16 acc[NB][PB] = {};
  for (int k = 0; k < s.K; ++k) {
    v16 wv[NB];
    for (int b = 0; b < NB; ++b) wv[b] = load<v16>(panel + 16 * (b * int64_t{s.K} + k));  // block b's [k][16]
    for (int p = 0; p < PB; ++p) {
      const float gv = g[p][k];
      for (int b = 0; b < NB; ++b) acc[b][p] += gv * wv[b];
    }
  }
  for (int b = 0; b < NB; ++b)
    for (int p = 0; p < PB; ++p) {
      float* d = win[p] + at + 16 * b;
      store(d, load<v16>(d) + acc[b][p]);
    }
}

template <typename V, int PB, int... Rest>
[[gnu::always_inline]] inline void input_pixels(const Conv2dShape& s, const float* dy, const float* panels,
                                                WindowWalker& walker, float* dx, int64_t& p, int64_t p1) {
  const int64_t run = int64_t{s.S} * s.C, row = int64_t{s.W} * s.C;
  for (; p + PB <= p1; p += PB) {
    const float* g[PB];
    float* win[PB];
    for (int i = 0; i < PB; ++i) {
      g[i] = dy + (p + i) * s.K;
      win[i] = dx + walker.next();
    }
    for (int r = 0; r < s.R; ++r) {
      const float* panel = panels + r * s.K * run;
      int64_t j = 0;
      if constexpr (kLanes<V> == 16) {
        // Three blocks a tile while more than two remain (but 4 as 2 + 2, not 3 + a lone 1): fewer,
        // longer tiles around each tile's setup and its adds into dx.
        for (; j + 48 <= run && run - j != 64; j += 48)
          input_tile_blocks<3, PB>(s, g, win, panel + j * s.K, r * row + j);
        for (; j + 32 <= run; j += 32) input_tile_blocks<2, PB>(s, g, win, panel + j * s.K, r * row + j);
      }
      for (; j + 16 <= run; j += 16)
        input_tile<V, 16 / kLanes<V>, PB>(s, g, win, panel + j * s.K, r * row + j);
      if (j < run) input_tile<v8, 1, PB>(s, g, win, panel + j * s.K, r * row + j);  // run % 16 == 8
    }
  }
  if constexpr (sizeof...(Rest) > 0) input_pixels<V, Rest...>(s, dy, panels, walker, dx, p, p1);
}

CXR_DIRECT_CLONES void input_dispatch(const Conv2dShape& s, const float* dy, const float* panels,
                                      const int64_t* offsets, float* dx, int64_t p0, int64_t p1) {
  WindowWalker walker(s, offsets, p0);
  input_pixels<v8, 6, 3, 1>(s, dy, panels, walker, dx, p0, p1);
}
// The same tiles of 6 pixels with 16-float vectors: overlapping windows add into dx tile by tile,
// so other tiles would add each element's terms in another order (other bits). Two or three 16-tap
// blocks a tile where the run has them, for 12 or 18 accumulators.
CXR_DIRECT_AVX512 void input_dispatch_avx512(const Conv2dShape& s, const float* dy, const float* panels,
                                             const int64_t* offsets, float* dx, int64_t p0, int64_t p1) {
  WindowWalker walker(s, offsets, p0);
  input_pixels<v16, 6, 3, 1>(s, dy, panels, walker, dx, p0, p1);
}

// ---- weight gradient ----------------------------------------------------------------------------
// dwt[t][kb..] += sum over the pixels [p0, p1) of one image of x[window + r*W*C + j] * dy[pixel], for
// TB taps t = r*S*C + j from t0 at once, all in filter row r (so their inputs lie side by side in
// NHWC: one pointer a pixel and fixed displacements), KV vectors of L filters from kb, in registers.
template <typename V, int KV, int TB>
[[gnu::always_inline]] inline void weight_block(const Conv2dShape& s, const float* x_img, const float* dy_img,
                                                const int64_t* windows, int64_t row_at, int t0, int kb, int p0,
                                                int p1, float* dwt) {
  constexpr int L = kLanes<V>;
  V acc[TB][KV] = {};
  for (int p = p0; p < p1; ++p) {
    const float* xr = x_img + windows[p] + row_at;
    V g[KV];
    for (int q = 0; q < KV; ++q) g[q] = load<V>(dy_img + static_cast<int64_t>(p) * s.K + kb + L * q);
    for (int t = 0; t < TB; ++t) {
      const float xv = xr[t];
      for (int q = 0; q < KV; ++q) acc[t][q] += xv * g[q];
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int q = 0; q < KV; ++q) {
      float* d = dwt + static_cast<int64_t>(t0 + t) * s.K + kb + L * q;
      store(d, load<V>(d) + acc[t][q]);
    }
}

// weight_block with TB = size, any size from 1 to TB.
template <typename V, int KV, int TB>
[[gnu::always_inline]] inline void weight_block_of(int size, const Conv2dShape& s, const float* x_img,
                                                   const float* dy_img, const int64_t* windows, int64_t row_at,
                                                   int t0, int kb, int p0, int p1, float* dwt) {
  if (size == TB) return weight_block<V, KV, TB>(s, x_img, dy_img, windows, row_at, t0, kb, p0, p1, dwt);
  if constexpr (TB > 1) weight_block_of<V, KV, TB - 1>(size, s, x_img, dy_img, windows, row_at, t0, kb, p0, p1, dwt);
}

// The taps [tap0, tap1) of dwt, summed over the images [n0, n1). Each tap's sum runs in the same
// order whichever range of taps, and block, it falls in.
template <typename V, int KV>
[[gnu::always_inline]] inline void weight_taps(const Conv2dShape& s, const float* x, const float* dy,
                                               const int64_t* windows, int n0, int n1, int tap0, int tap1,
                                               float* dwt) {
  // Taps per pass: KV*kTaps accumulators + KV + 1 registers, of AVX2's 16 or AVX-512's 32. With
  // 16-float vectors, 24 accumulators (experiment 1's third layer's pass 1.6x faster than with 12;
  // its first layer's, 16 filters, 1.1x since blocks stay in one filter row: with a table of tap
  // offsets, 24 taps had run 1.4-1.5x slower than 12).
  constexpr int kTaps = kLanes<V> == 16 ? 24 / KV : 12 / KV;
  const int pixels = s.OH * s.OW, run = s.S * s.C;
  // Pixels in chunks of 512, whose dy (16-128 KB at 8-64 filters) stays in L2 across the passes over
  // the taps. Each pass over a chunk zeroes its accumulators, adds them into dwt and picks its blocks;
  // in chunks of 64 (dy in L1: faster than 1,024 on an earlier kernel and VM) that cost 2-15% of
  // experiments 1 and 3's gradients, most at their first layers (session 26, interleaved). 1,024
  // pixels or whole images were no faster than 512, and a float sum runs over at most 512 terms.
  constexpr int chunk = 512;
  for (int n = n0; n < n1; ++n) {
    const float* x_img = x + n * image_of(s);
    const float* dy_img = dy + static_cast<int64_t>(n) * pixels * s.K;
    for (int p0 = 0; p0 < pixels; p0 += chunk) {
      const int p1 = std::min(pixels, p0 + chunk);
      // The next chunk's input rows on their way to L2 while this one's passes run: at experiment
      // 3's size (31.5 MB of x a batch) the rows came from memory as the passes reached them.
      if (p1 < pixels) {
        const int q1 = std::min(pixels, p1 + chunk);
        const int64_t first = windows[p1], last = windows[q1 - 1] + (int64_t{s.R - 1} * s.W + s.S) * s.C;
        for (int64_t at = first; at < last; at += 16) __builtin_prefetch(x_img + at, 0, 2);
      }
      for (int kb = 0; kb < s.K; kb += kLanes<V> * KV) {
        // Blocks within one filter row, as even as they can be: a block that took taps from two rows
        // needed an offset table, whose lookups and their spills cost an integer op or two per FMA
        // (experiment 1's first layer's gradient ran at half the FMA peak); and a short last block
        // has too few accumulators to hide the FMAs' latency (15 taps: 8 + 7, not 12 + 3).
        for (int r = tap0 / run; r * run < tap1; ++r) {
          const int a = std::max(tap0, r * run), b = std::min(tap1, (r + 1) * run);
          const int blocks = (b - a + kTaps - 1) / kTaps;
          for (int i = 0, t = a; i < blocks; ++i) {
            const int size = (b - a) / blocks + (i < (b - a) % blocks ? 1 : 0);
            const int64_t row_at = static_cast<int64_t>(r) * s.W * s.C + (t - r * run);
            weight_block_of<V, KV, kTaps>(size, s, x_img, dy_img, windows, row_at, t, kb, p0, p1, dwt);
            t += size;
          }
        }
      }
    }
  }
}

CXR_DIRECT_CLONES void weight_dispatch(const Conv2dShape& s, const float* x, const float* dy, const int64_t* windows,
                                       int n0, int n1, int tap0, int tap1, float* dwt) {
  // 32 filters x 3 taps (7 loads per 12 FMAs) beat 16 x 6 (8 loads and a window per 12): 4-9% on
  // experiment 1's second and third layers.
  if (s.K % 32 == 0) weight_taps<v8, 4>(s, x, dy, windows, n0, n1, tap0, tap1, dwt);
  else if (s.K % 16 == 0) weight_taps<v8, 2>(s, x, dy, windows, n0, n1, tap0, tap1, dwt);
  else weight_taps<v8, 1>(s, x, dy, windows, n0, n1, tap0, tap1, dwt);
}
CXR_DIRECT_AVX512 void weight_dispatch_avx512(const Conv2dShape& s, const float* x, const float* dy,
                                              const int64_t* windows, int n0, int n1, int tap0, int tap1,
                                              float* dwt) {
  if (s.K % 64 == 0) weight_taps<v16, 4>(s, x, dy, windows, n0, n1, tap0, tap1, dwt);
  else if (s.K % 32 == 0) weight_taps<v16, 2>(s, x, dy, windows, n0, n1, tap0, tap1, dwt);
  else if (s.K % 16 == 0) weight_taps<v16, 1>(s, x, dy, windows, n0, n1, tap0, tap1, dwt);
  else weight_taps<v8, 1>(s, x, dy, windows, n0, n1, tap0, tap1, dwt);
}

EnvSetting g_avx512("CXR_CPU_AVX512", 1, 0);

}  // namespace

void set_avx512(bool allowed) { g_avx512.set(allowed ? 1 : 0); }

bool avx512() {
#ifdef __SANITIZE_THREAD__
  return false;  // target_clones.h drops the FMA clone under TSan: the wide kernels would differ in bits
#else
  static const bool cpu_has_it = __builtin_cpu_supports("x86-64-v4");
  return cpu_has_it && g_avx512.get() != 0;
#endif
}

namespace {
// forward()'s pixels go in ranges of whole units of 24 (full tiles of 6, 8 or 12). Each pixel's sums
// run in the same order whichever range, group and tap block its tile falls in: the split only
// changes the time.
constexpr int64_t kUnit = 24;

// forward() over large weights: work items of a group of filters (up to kMaxGroupPanels panels, in
// as many groups as it takes for 2 items a thread) times a range of up to ~1,500 pixels. Each item
// packs its group's weights for its range (unless they come packed ahead), and copies its range's
// windows for its group: over all the items, the weights are packed once per range and the windows
// copied once per group.
void forward_large(const Conv2dShape& s, const float* x, const float* w, const float* prepacked, const float* bias,
                   const int64_t* offsets, float* y, bool wide, int width) {
  constexpr int64_t kMaxRangeUnits = 64;
  const int64_t pixels = s.N * pixels_of(s), units = (pixels + kUnit - 1) / kUnit, panel_count = s.K / width;
  if (units == 0) return;  // no pixels
  const int64_t groups = std::max((panel_count + kMaxGroupPanels - 1) / kMaxGroupPanels,
                                  std::min<int64_t>(panel_count, 2 * cpu_threads()));
  const int64_t group = (panel_count + groups - 1) / groups;  // panels a group (the last may have fewer)
  const int64_t ranges = (units + kMaxRangeUnits - 1) / kMaxRangeUnits;
  const int64_t units_per_range = (units + ranges - 1) / ranges;
  const size_t panels_size = static_cast<size_t>(group * width * kTapBlock);
  parallel_for_dynamic(groups * ranges, 1, [&](int64_t i0, int64_t i1) {
    // Each thread's buffers, kept from call to call: a fresh 512 KB a work item cost page faults.
    thread_local std::vector<float> buffers;
    buffers.resize(std::max(buffers.size(), panels_size + 12 * kTapBlock));
    float *panels = buffers.data(), *xs = panels + panels_size;
    for (int64_t i = i0; i < i1; ++i) {
      const int k0 = static_cast<int>((i / ranges) * group * width);
      const int k1 = static_cast<int>(std::min<int64_t>(s.K, k0 + group * width));
      const int64_t u0 = (i % ranges) * units_per_range, u1 = std::min(units, u0 + units_per_range);
      const int64_t p0 = u0 * kUnit, p1 = std::min(pixels, u1 * kUnit);
      if (k0 >= k1 || p0 >= p1) continue;
      auto* item = wide ? large_dispatch_avx512 : large_dispatch;
      item(s, x, w, prepacked, bias, offsets, y, p0, p1, k0, k1, panels, xs);
    }
  });
}
}  // namespace

bool handles(const Conv2dShape& s) {
  const bool unpadded = s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0;
  const bool one_by_one = s.R == 1 && s.S == 1;  // im2col is the input itself: one plain GEMM
  return unpadded && !one_by_one && s.K % 8 == 0 && s.K * taps_of(s) <= kMaxWeights;
}

bool handles_forward(const Conv2dShape& s) {
  return s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0 && s.K % 8 == 0;
}

bool handles_input_gradient(const Conv2dShape& s) { return handles(s) && (int64_t{s.S} * s.C) % 8 == 0; }

namespace {
// The filters a forward panel holds: the dispatch's tiles' width.
int forward_width(const Conv2dShape& s) { return avx512() && s.K % 32 == 0 ? 32 : s.K % 16 == 0 ? 16 : 8; }
bool forward_is_large(const Conv2dShape& s) { return s.K * taps_of(s) > kMaxWeights; }

// forward() with the weights w, or with them packed ahead (prepacked, forward_packing's layout).
void forward_with(const Conv2dShape& s, const float* x, const float* w, const float* prepacked,
                  const float* bias_or_null, float* y) {
  const bool wide = avx512();
  const int width = forward_width(s);
  const std::vector<int64_t> offsets = window_offsets(s);
  const int64_t taps = taps_of(s);
  if (forward_is_large(s)) return forward_large(s, x, w, prepacked, bias_or_null, offsets.data(), y, wide, width);
  const int64_t pixels = s.N * pixels_of(s), units = (pixels + kUnit - 1) / kUnit;
  std::vector<float> packed_here;
  if (!prepacked) packed_here = filter_panels(s, w, width);
  const float* panels = prepacked ? prepacked : packed_here.data();
  // About 8 ranges a thread, of at least ~0.5 MFLOP each, handed out as threads come free.
  const int64_t flops_per_unit = 2 * kUnit * s.K * taps;
  const int64_t min_units = std::max<int64_t>(1, (int64_t{1} << 19) / flops_per_unit);
  const int64_t grain = std::max<int64_t>(min_units, units / (8 * cpu_threads()));
  parallel_for_dynamic(units, grain, [&](int64_t u0, int64_t u1) {
    const int64_t p0 = u0 * kUnit, p1 = std::min(pixels, u1 * kUnit);
    if (wide) forward_dispatch_avx512(s, x, panels, bias_or_null, offsets.data(), y, p0, p1);
    else forward_dispatch(s, x, panels, bias_or_null, offsets.data(), y, p0, p1);
  });
}
}  // namespace

void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  forward_with(s, x, w, nullptr, bias_or_null, y);
}

ForwardPacking forward_packing(const Conv2dShape& s) {
  const int width = forward_width(s);
  const int64_t taps = taps_of(s);
  // Over kMaxWeights: block-major, every panel's block of kTapBlock taps (the last block padded) side
  // by side, so that a work item's group of panels lies contiguous whatever the grouping.
  const int64_t floats = forward_is_large(s) ? (taps + kTapBlock - 1) / kTapBlock * kTapBlock * s.K : taps * s.K;
  return {floats, width};
}

void pack_forward_weights(const Conv2dShape& s, const float* w, float* packed) {
  const int width = forward_width(s);
  const int64_t taps = taps_of(s);
  if (!forward_is_large(s)) return pack_filter_panels(s, w, width, packed);
  const int64_t blocks = (taps + kTapBlock - 1) / kTapBlock;
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t t0 = b * kTapBlock, t1 = std::min(taps, t0 + kTapBlock);
      float* block = packed + b * s.K * kTapBlock;
      if (t1 - t0 < kTapBlock) std::fill(block, block + s.K * kTapBlock, 0.0f);  // the padded rows: never read
      for (int kb = 0; kb < s.K; kb += width) pack_panel(w, taps, width, kb, t0, t1, block + kb * kTapBlock);
    }
  });
}

void forward_packed(const Conv2dShape& s, const float* x, const float* packed, const float* bias_or_null, float* y) {
  forward_with(s, x, nullptr, packed, bias_or_null, y);
}

void input_gradient(const Conv2dShape& s, const float* w, const float* dy, float* dx) {
  const std::vector<float> panels = run_panels(s, w);
  const std::vector<int64_t> offsets = window_offsets(s);
  // Windows overlap, so each image's dx has a single writer: work items are groups of whole images
  // (>= 128 pixels, so the tiles rarely fall short at an item's end), fixed whatever the threads.
  const int64_t P = pixels_of(s), images_per_item = std::max<int64_t>(1, (128 + P - 1) / P);
  const int64_t items = (s.N + images_per_item - 1) / images_per_item;
  const bool wide = avx512();
  parallel_for_dynamic(items, 1, [&](int64_t i0, int64_t i1) {
    const int64_t n0 = i0 * images_per_item, n1 = std::min<int64_t>(s.N, i1 * images_per_item);
    std::fill(dx + n0 * image_of(s), dx + n1 * image_of(s), 0.0f);
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t first = item * images_per_item, last = std::min<int64_t>(s.N, first + images_per_item);
      if (wide) input_dispatch_avx512(s, dy, panels.data(), offsets.data(), dx, first * P, last * P);
      else input_dispatch(s, dy, panels.data(), offsets.data(), dx, first * P, last * P);
    }
  });
}

void weight_gradient(const Conv2dShape& s, const float* x, const float* dy, float* dw) {
  const int taps = static_cast<int>(taps_of(s));
  const std::vector<int64_t> windows = window_offsets(s);
  // Work items: blocks of images, each summed into partial sums of its own, times ranges of taps. The
  // blocks are fixed by the batch size, never by the thread count, and their partials are added in
  // block order, so the result is the same on any number of threads. A thread that takes a block
  // streams only that block's x and dy (a split of the taps alone streamed the whole batch once per
  // range), and items handed out as threads come free absorb a core that runs slower for a while.
  // 8 blocks (batch 32: 4 images each) were 10-13% faster than the taps split in two; 16 blocks, with
  // twice the partial sums to add, only 3%.
  constexpr int kBlocks = 8;
  if (s.N == 0) {
    std::fill(dw, dw + int64_t{taps} * s.K, 0.0f);
    return;
  }
  const int images_per_block = (s.N + kBlocks - 1) / kBlocks;
  const int blocks = (s.N + images_per_block - 1) / images_per_block;
  const int tap_ranges = std::max(1, kBlocks / blocks);  // a batch of fewer images splits its taps as well
  // Rounded up twice: to cover every tap (rounding taps / tap_ranges down left the last taps of a
  // 25-tap layer at batch 3, or a 7x7 RGB stem at batch 2, unsummed), and to whole groups of 12.
  const int taps_per_range = ((taps + tap_ranges - 1) / tap_ranges + 11) / 12 * 12;
  const int64_t block_size = int64_t{taps} * s.K;
  // Each item zeroes its own part: on the thread that sums into it, and no pass over all of it first.
  const std::unique_ptr<float[]> dwt(new float[static_cast<size_t>(blocks * block_size)]);
  const bool wide = avx512();
  parallel_for_dynamic(int64_t{blocks} * tap_ranges, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int b = static_cast<int>(item / tap_ranges), r = static_cast<int>(item % tap_ranges);
      const int n0 = b * images_per_block, n1 = std::min(s.N, n0 + images_per_block);
      const int t0 = std::min(taps, r * taps_per_range), t1 = std::min(taps, t0 + taps_per_range);
      float* partial = dwt.get() + b * block_size;
      std::fill(partial + int64_t{t0} * s.K, partial + int64_t{t1} * s.K, 0.0f);
      if (wide) weight_dispatch_avx512(s, x, dy, windows.data(), n0, n1, t0, t1, partial);
      else weight_dispatch(s, x, dy, windows.data(), n0, n1, t0, t1, partial);
    }
  });
  // The blocks' partials added into the first, in block order, then transposed to dw[k][t].
  float* total = dwt.get();
  parallel_for(block_size, kMinValuesPerThread / std::max(1, blocks), [&](int64_t i0, int64_t i1) {
    for (int b = 1; b < blocks; ++b) {
      const float* __restrict part = dwt.get() + b * block_size;
      for (int64_t i = i0; i < i1; ++i) total[i] += part[i];
    }
  });
  for (int k = 0; k < s.K; ++k)
    for (int t = 0; t < taps; ++t) dw[static_cast<int64_t>(k) * taps + t] = total[static_cast<int64_t>(t) * s.K + k];
}

}  // namespace cxr::kernels::cpu::direct
