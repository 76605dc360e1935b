// Each op maps element i to element i, so the elements split into ranges over the OpenMP threads
// (kernels/cpu/parallel.h) with the same bits on any thread count. The loops stay in plain functions
// of raw pointers, called once per range, so GCC vectorises them as before.
#include "kernels/activation.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/target_clones.h"

namespace cxr::kernels::cpu {
namespace {

// Sigmoid's exp makes it dearer per element than a memory-bound map, hence a lower bound than
// kMinValuesPerThread (parallel.h).
constexpr int64_t kMinSigmoidPerThread = 4096;

// NaN stays NaN, as in TensorFlow's and PyTorch's relu and cuDNN's (CUDNN_PROPAGATE_NAN): a run
// that diverges shows it, where `x > 0 ? x : 0` would hide the NaN as a zero. -0 becomes +0.
void relu_forward_range(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] <= 0.0f ? 0.0f : x[i];
}

// dy is loaded unconditionally: with the load inside the ?: GCC keeps a branch per element (which
// mispredicts on half of them, ~25x slower on a conv output) instead of vectorising a select.
void relu_backward_range(int64_t n, const float* x, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = dy[i];
    dx[i] = x[i] > 0.0f ? g : 0.0f;
  }
}

// exp(x) for x <= 0 (NaN stays NaN), in plain arithmetic GCC vectorises, where a call to expf
// kept the loop scalar (2.2 GB/s, 5% of the copy bandwidth). Cephes' expf: x = n ln2 + r with
// |r| <= ln2/2 (n rounded by the 1.5 * 2^23 trick, ln2 in two parts so n ln2 is exact), a degree-7
// polynomial for e^r, then 2^n built in the exponent bits; within 2 ulp of the true value. Below
// ln(FLT_MIN) (where 2^n would leave the normal range) it returns 0 in place of a subnormal.
inline float exp_nonpositive(float x) {
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  const float t = x * 1.44269504088896341f + kRound;
  const float n = t - kRound;
  float r = x - n * 0.693359375f;  // ln2's leading bits: n * this is exact
  r = r - n * -2.12194440e-4f;     // the rest of ln2
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  const int32_t biased = (bits - 0x4B400000) + 127;  // n + the exponent bias (0x4B400000: kRound's bits)
  const int32_t scale_bits = biased << 23;
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return x < -87.3365448f ? 0.0f : p * scale;
}

// Stable for large |x|: never evaluates exp of a large positive number. Vectorised only because
// this file is compiled with -fno-trapping-math (kernels/CMakeLists.txt): otherwise GCC keeps each
// ?: whose arms might raise a floating-point exception as a branch, and the loop scalar. One clone a
// vector width: the exp's arithmetic is most of the time.
CXR_TARGET_CLONES("arch=x86-64-v4", "arch=x86-64-v3", "default")
void sigmoid_forward_range(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float e = exp_nonpositive(-std::fabs(x[i]));
    y[i] = (x[i] >= 0.0f ? 1.0f : e) / (1.0f + e);
  }
}

void sigmoid_backward_range(int64_t n, const float* y, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

}  // namespace

void relu_forward(int64_t n, const float* x, float* y) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { relu_forward_range(e - b, x + b, y + b); });
}

void relu_backward(int64_t n, const float* x, const float* dy, float* dx) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { relu_backward_range(e - b, x + b, dy + b, dx + b); });
}

void sigmoid_forward(int64_t n, const float* x, float* y) {
  parallel_for(n, kMinSigmoidPerThread, [=](int64_t b, int64_t e) { sigmoid_forward_range(e - b, x + b, y + b); });
}

void sigmoid_backward(int64_t n, const float* y, const float* dy, float* dx) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { sigmoid_backward_range(e - b, y + b, dy + b, dx + b); });
}

}  // namespace cxr::kernels::cpu
