// Elementwise and reduction kernels the engine itself needs (gradient accumulation, fills, sums).
// Same conventions as kernels/activation.h.
#pragma once
#include <cstdint>

namespace cxr::kernels {
namespace cpu {
void fill(int64_t n, float value, float* y);
void add(int64_t n, const float* a, const float* b, float* y);      // y = a + b
void accumulate(int64_t n, const float* x, float* y);               // y += x
void scale(int64_t n, float alpha, const float* x, float* y);       // y = alpha * x
void mul(int64_t n, const float* a, const float* b, float* y);      // y = a * b
void sum(int64_t n, const float* x, float* out);                    // *out = sum(x), accumulated in double
}  // namespace cpu
namespace cuda {
void fill(int64_t n, float value, float* y);
void add(int64_t n, const float* a, const float* b, float* y);
void accumulate(int64_t n, const float* x, float* y);
void scale(int64_t n, float alpha, const float* x, float* y);
void mul(int64_t n, const float* a, const float* b, float* y);
void sum(int64_t n, const float* x, float* out);  // out is device memory: no host sync
// y[i] = *value for a device scalar: broadcasts a gradient without reading it on the host.
void broadcast_fill(int64_t n, const float* value, float* y);
}  // namespace cuda
}  // namespace cxr::kernels
