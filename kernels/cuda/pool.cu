// CUDA max pooling, NHWC (kernels/pool.h). Same rule as the CPU: a window's value and gradient go to
// its FIRST maximum in row-major scan order. Backward gathers instead of scattering: each input pixel
// walks the windows that contain it in (oh, ow) order, the order in which the CPU adds them, so the
// sums are bit-identical and no atomics are needed. When windows overlap (a window larger than its
// stride, as ResNet's 3x3 stride-2 pool1), each window's maximum is first found once and its place
// kept; searched again by every input pixel under it (up to 4 windows of 9 values a pixel), pool1's
// backward took 70 us against cuDNN's 31 on an H100, 2026-11-26.
#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/scratch.cuh"
#include "kernels/pool.h"

namespace cxr::kernels::cuda {
namespace {

// Offset (into the image, channel included) of the first maximum of window (oh, ow), channel c.
__device__ int64_t window_argmax(const Pool2dShape& s, const float* x_img, int oh, int ow, int c) {
  const int top = oh * s.sh - s.pad_top, left = ow * s.sw - s.pad_left;
  const int r0 = max(top, 0), r1 = min(top + s.ph, s.H), c0 = max(left, 0), c1 = min(left + s.pw, s.W);
  int64_t best_at = (static_cast<int64_t>(r0) * s.W + c0) * s.C + c;
  float best = x_img[best_at];
  for (int r = r0; r < r1; ++r)
    for (int col = c0; col < c1; ++col) {
      const int64_t at = (static_cast<int64_t>(r) * s.W + col) * s.C + c;
      // Strict, so a later tie never replaces the first maximum; a NaN is taken and no number then
      // replaces it, as on the CPU (kernels/cpu/pool.cpp) and in PyTorch.
      const float v = x_img[at];
      if (v > best || v != v) {  // v != v: NaN
        best = v;
        best_at = at;
      }
    }
  return best_at;
}

// Element i of an [N][rows][cols][C] tensor taken apart: image, row, column, channel. Index: uint32_t
// when every index fits (division is several times slower in 64 bits), else int64_t.
struct Place {
  int64_t n;
  int row, col, c;
};
template <class Index>
__device__ Place place_of(Index i, int rows, int cols, int C) {
  Place p;
  p.c = static_cast<int>(i % static_cast<Index>(C));
  Index t = i / static_cast<Index>(C);
  p.col = static_cast<int>(t % static_cast<Index>(cols));
  t /= static_cast<Index>(cols);
  p.row = static_cast<int>(t % static_cast<Index>(rows));
  p.n = static_cast<int64_t>(t / static_cast<Index>(rows));
  return p;
}

// y = each window's maximum, or (when argmax is not null) its offset in the image, channel included.
template <class Index>
__global__ void maxpool_forward_kernel(Pool2dShape s, const float* x, float* y, int* argmax, Index count) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  const int64_t image = static_cast<int64_t>(s.H) * s.W * s.C;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const Place out = place_of(i, s.OH, s.OW, s.C);
    const float* x_img = x + out.n * image;
    const int64_t at = window_argmax(s, x_img, out.row, out.col, out.c);
    if (argmax)
      argmax[i] = static_cast<int>(at);
    else
      y[i] = x_img[at];
  }
}

// The windows' maxima are searched here (argmax null) or read from argmax (maxpool_forward_kernel's).
template <class Index>
__global__ void maxpool_backward_kernel(Pool2dShape s, const float* x, const int* argmax, const float* dy, float* dx,
                                        Index count) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  const int64_t image = static_cast<int64_t>(s.H) * s.W * s.C;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const Place in = place_of(i, s.H, s.W, s.C);
    const int64_t n = in.n;
    const int ih = in.row, iw = in.col, c = in.c;
    const float* x_img = x + n * image;
    const int64_t self = static_cast<int64_t>(i) - n * image;
    // Windows containing (ih, iw): oh*sh - pad_top <= ih < oh*sh - pad_top + ph, likewise for ow.
    const int oh_lo = max(0, (ih + s.pad_top - s.ph + s.sh) / s.sh), oh_hi = min(s.OH - 1, (ih + s.pad_top) / s.sh);
    const int ow_lo = max(0, (iw + s.pad_left - s.pw + s.sw) / s.sw), ow_hi = min(s.OW - 1, (iw + s.pad_left) / s.sw);
    float acc = 0.0f;
    for (int oh = oh_lo; oh <= oh_hi; ++oh)
      for (int ow = ow_lo; ow <= ow_hi; ++ow) {
        const int64_t window = ((n * s.OH + oh) * s.OW + ow) * s.C + c;
        const int64_t at = argmax ? argmax[window] : window_argmax(s, x_img, oh, ow, c);
        if (at == self) acc += dy[window];
      }
    dx[i] = acc;
  }
}

// The kernel for `count` items, with 32-bit indices when `narrow`.
template <class Narrow, class Wide, class... Args>
void launch_indexed(Narrow narrow_kernel, Wide wide_kernel, bool narrow, int64_t count, Args... args) {
  if (narrow)
    narrow_kernel<<<detail::grid_size(count), detail::kBlockThreads, 0, stream()>>>(args...,
                                                                                  static_cast<uint32_t>(count));
  else
    wide_kernel<<<detail::grid_size(count), detail::kBlockThreads, 0, stream()>>>(args..., count);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace

void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const int64_t count = static_cast<int64_t>(s.N) * s.OH * s.OW * s.C;
  if (count <= 0) return;
  launch_indexed(maxpool_forward_kernel<uint32_t>, maxpool_forward_kernel<int64_t>, count <= INT32_MAX, count, s, x,
                 y, static_cast<int*>(nullptr));
}

void maxpool2d_backward(const Pool2dShape& s, const float* x, const float* dy, float* dx) {
  const int64_t count = static_cast<int64_t>(s.N) * s.H * s.W * s.C;
  if (count <= 0) return;
  const int64_t windows = static_cast<int64_t>(s.N) * s.OH * s.OW * s.C;
  const bool narrow = count <= INT32_MAX && windows <= INT32_MAX;
  const bool overlap = s.ph > s.sh || s.pw > s.sw;
  const bool offsets_fit = static_cast<int64_t>(s.H) * s.W * s.C <= INT32_MAX;  // argmax holds int offsets
  if (!overlap || !offsets_fit || windows <= 0) {
    launch_indexed(maxpool_backward_kernel<uint32_t>, maxpool_backward_kernel<int64_t>, narrow, count, s, x,
                   static_cast<const int*>(nullptr), dy, dx);
    return;
  }
  const detail::Scratch<int> argmax(windows, "max pool backward: the windows' maxima");
  launch_indexed(maxpool_forward_kernel<uint32_t>, maxpool_forward_kernel<int64_t>, narrow, windows, s, x,
                 static_cast<float*>(nullptr), argmax.get());
  launch_indexed(maxpool_backward_kernel<uint32_t>, maxpool_backward_kernel<int64_t>, narrow, count, s, x,
                 static_cast<const int*>(argmax.get()), dy, dx);
}

}  // namespace cxr::kernels::cuda
