// kernels/cpu/philox_block.h. Both versions run the rounds of kernels/philox.h on many counters at
// once (structure of arrays): same integer arithmetic, so the same bits as philox4x32_10.
#include "kernels/cpu/philox_block.h"

#include "kernels/philox.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cxr::kernels::cpu {

constexpr int64_t kLanes = kPhiloxBlockCounters;

// One lane per counter; GCC vectorises each round's loop.
void philox_block_portable(uint64_t first_counter, uint64_t stream, uint64_t seed, uint32_t* words) {
  uint32_t v0[kLanes], v1[kLanes], v2[kLanes], v3[kLanes];
  for (int64_t j = 0; j < kLanes; ++j) {
    const uint64_t counter = first_counter + static_cast<uint64_t>(j);
    v0[j] = static_cast<uint32_t>(counter);
    v1[j] = static_cast<uint32_t>(counter >> 32);
    v2[j] = static_cast<uint32_t>(stream);
    v3[j] = static_cast<uint32_t>(stream >> 32);
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int64_t j = 0; j < kLanes; ++j) {
      const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * v0[j], p1 = static_cast<uint64_t>(kPhiloxM1) * v2[j];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ v1[j] ^ k0, n2 = static_cast<uint32_t>(p0 >> 32) ^ v3[j] ^ k1;
      v1[j] = static_cast<uint32_t>(p1);
      v3[j] = static_cast<uint32_t>(p0);
      v0[j] = n0;
      v2[j] = n2;
    }
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  for (int64_t j = 0; j < kLanes; ++j) {
    words[4 * j] = v0[j];
    words[4 * j + 1] = v1[j];
    words[4 * j + 2] = v2[j];
    words[4 * j + 3] = v3[j];
  }
}

#if defined(__x86_64__)
// The same words with AVX2, 8 counters per register. GCC's vectorisation of the loop above spent
// most of its time unpacking the 32x32->64-bit products (~29 cycles per counter); here a product's
// high and low halves come from two vpmuludq (even and odd lanes) and two blends (~8 cycles).
namespace {

__attribute__((target("avx2"))) __m256i mulhilo_avx2(__m256i a, __m256i m, __m256i* hi) {
  const __m256i even = _mm256_mul_epu32(a, m);                         // lanes 0,2,4,6: 64-bit products
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1,3,5,7
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// Two groups of 8 counters go through the rounds together: one group's chain of dependent
// multiplies, shifts and blends left the core idle half of the time (measured: 1.3x with two).
__attribute__((target("avx2"))) void philox_block_avx2(uint64_t first_counter, uint64_t stream, uint64_t seed,
                                                      uint32_t* words) {
  constexpr int G = 2;  // kLanes (256) is a multiple of 8 * G; four groups were no faster
  const __m256i M0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0)), M1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
  const __m256i c2 = _mm256_set1_epi32(static_cast<int>(stream)), c3 = _mm256_set1_epi32(static_cast<int>(stream >> 32));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t j0 = 0; j0 < kLanes; j0 += 8 * G) {
    __m256i v0[G], v1[G], v2[G], v3[G];
    for (int g = 0; g < G; ++g) {
      const uint64_t first = first_counter + static_cast<uint64_t>(j0 + 8 * g);
      if (static_cast<uint32_t>(first) <= 0xFFFFFFF8u) {  // the 8 counters share their high word
        v0[g] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)), lane);
        v1[g] = _mm256_set1_epi32(static_cast<int>(first >> 32));
      } else {  // the low word wraps inside the group
        alignas(32) uint32_t lo[8], hi[8];
        for (int j = 0; j < 8; ++j) {
          lo[j] = static_cast<uint32_t>(first + j);
          hi[j] = static_cast<uint32_t>((first + j) >> 32);
        }
        v0[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
        v1[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
      }
      v2[g] = c2;
      v3[g] = c3;
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0)), key1 = _mm256_set1_epi32(static_cast<int>(k1));
      for (int g = 0; g < G; ++g) {
        __m256i hi0, hi1;
        const __m256i lo0 = mulhilo_avx2(v0[g], M0, &hi0), lo1 = mulhilo_avx2(v2[g], M1, &hi1);
        v0[g] = _mm256_xor_si256(_mm256_xor_si256(hi1, v1[g]), key0);
        v2[g] = _mm256_xor_si256(_mm256_xor_si256(hi0, v3[g]), key1);
        v1[g] = lo1;
        v3[g] = lo0;
      }
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    // 8 counters x 4 words (one register per word) -> 32 words in counter order: a 4x8 transpose.
    for (int g = 0; g < G; ++g) {
      const __m256i t0 = _mm256_unpacklo_epi32(v0[g], v1[g]), t1 = _mm256_unpackhi_epi32(v0[g], v1[g]);
      const __m256i t2 = _mm256_unpacklo_epi32(v2[g], v3[g]), t3 = _mm256_unpackhi_epi32(v2[g], v3[g]);
      const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);  // counters 0,4 | 1,5
      const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);  // counters 2,6 | 3,7
      __m256i* out = reinterpret_cast<__m256i*>(words + 4 * (j0 + 8 * g));
      _mm256_storeu_si256(out, _mm256_permute2x128_si256(u0, u1, 0x20));
      _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
      _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
      _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
    }
  }
}

}  // namespace
#endif

void philox_block(uint64_t first_counter, uint64_t stream, uint64_t seed, uint32_t* words) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return philox_block_avx2(first_counter, stream, seed, words);
#endif
  philox_block_portable(first_counter, stream, seed, words);
}

}  // namespace cxr::kernels::cpu
