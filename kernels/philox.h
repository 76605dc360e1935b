// Philox4x32-10 counter-based RNG (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11).
//
// Why counter-based: a random number is a pure function of (key, counter), so the CPU and a CUDA
// kernel produce the same dropout mask and the same augmentation draw for the same (seed, step,
// element) without sharing any state. That makes CPU-vs-CUDA parity tests exact and runs
// reproducible regardless of thread count.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define CXR_HD __host__ __device__ __forceinline__
#else
#define CXR_HD inline
#endif

namespace cxr::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

// The round constants (Salmon et al.), shared with the CPU's block generators (kernels/cpu/philox_block.cpp).
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;  // multipliers
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;  // Weyl key increments

CXR_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on a 128-bit counter with a 64-bit key.
CXR_HD Philox4x32 philox4x32_10(Philox4x32 ctr, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(kPhiloxM0, ctr.v[0], &hi0);
    uint32_t lo1 = mulhilo32(kPhiloxM1, ctr.v[2], &hi1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return ctr;
}

// A uniform float in [0, 1) from the top 24 bits of a 32-bit word (exactly representable).
CXR_HD float uniform01(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

// The i-th uniform of the stream identified by (seed, stream). One Philox call yields 4 numbers, so
// element i uses word i%4 of counter i/4. Same inputs, same number, on any device.
CXR_HD float philox_uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  Philox4x32 ctr{{static_cast<uint32_t>(i >> 2), static_cast<uint32_t>(i >> 34),
                  static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}};
  Philox4x32 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return uniform01(r.v[i & 3]);
}

}  // namespace cxr::kernels
