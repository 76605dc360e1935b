// kernels/cpu/philox_block.h. All three versions run the rounds of kernels/philox.h on many counters at
// once (structure of arrays): same integer arithmetic, so the same bits as philox4x32_10.
#include "kernels/cpu/philox_block.h"

#include "kernels/philox.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start some results from _mm512_undefined_epi32(), which its
// -Wuninitialized (or -Wmaybe-uninitialized, in the sanitizers' build) then reports once inlined
// (GCC bug 105593, fixed in 13): off for the header's lines.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace cxr::kernels::cpu {

constexpr int64_t kLanes = kPhiloxBlockCounters;

namespace {

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

}  // namespace

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

// The same with AVX-512, but each counter in a 64-bit lane, 8 a register: vpmuludq multiplies the
// low 32 bits of each lane into a full 64-bit product, so the product is the next round's lo word
// as it stands (its high half is never read: the next multiply and the output take low halves
// only) and its hi word is one shift away, and each xor pair is one vpternlogd: 3 operations a
// multiply, where the AVX2 version's layout (16 counters a register, 32 bits each) takes about 5,
// shifting and blending to split each product into its words and pack them back. Against that
// layout in AVX-512: 0.25 -> 0.18 ns a word on one Zen 5 core (1.4x), the same words. Four groups
// of 8 counters go through the rounds together (two: 0.25 ns a word; eight run out of registers).
__attribute__((target("avx512f"))) void philox_block_avx512(uint64_t first_counter, uint64_t stream, uint64_t seed,
                                                          uint32_t* words) {
  constexpr int G = 4;  // kLanes (256) is a multiple of 8 * G
  const __m512i M0 = _mm512_set1_epi64(kPhiloxM0), M1 = _mm512_set1_epi64(kPhiloxM1);
  const __m512i c2 = _mm512_set1_epi64(static_cast<int64_t>(stream));        // low half: stream's low word
  const __m512i c3 = _mm512_set1_epi64(static_cast<int64_t>(stream >> 32));  // stream's high word
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  // Output: lane j of a holds counter j's words 0-1, of b its words 2-3; these interleave them.
  const __m512i first_four = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  const __m512i last_four = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  for (int64_t j0 = 0; j0 < kLanes; j0 += 8 * G) {
    __m512i v0[G], v1[G], v2[G], v3[G];
    for (int g = 0; g < G; ++g) {
      const uint64_t first = first_counter + static_cast<uint64_t>(j0 + 8 * g);
      // 64-bit lanes: the low word's carry reaches the high word.
      const __m512i counter = _mm512_add_epi64(_mm512_set1_epi64(static_cast<int64_t>(first)), lane);
      v0[g] = counter;                           // low half: the counter's low word
      v1[g] = _mm512_srli_epi64(counter, 32);  // its high word
      v2[g] = c2;
      v3[g] = c3;
    }
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      const __m512i key0 = _mm512_set1_epi32(static_cast<int>(k0)), key1 = _mm512_set1_epi32(static_cast<int>(k1));
      for (int g = 0; g < G; ++g) {
        const __m512i p0 = _mm512_mul_epu32(v0[g], M0), p1 = _mm512_mul_epu32(v2[g], M1);
        constexpr int kXor3 = 0x96;  // vpternlogd's truth table for a ^ b ^ c
        v0[g] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p1, 32), v1[g], key0, kXor3);
        v2[g] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p0, 32), v3[g], key1, kXor3);
        v1[g] = p1;
        v3[g] = p0;
      }
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    for (int g = 0; g < G; ++g) {
      const __m512i a = _mm512_mask_blend_epi32(0xAAAA, v0[g], _mm512_slli_epi64(v1[g], 32));
      const __m512i b = _mm512_mask_blend_epi32(0xAAAA, v2[g], _mm512_slli_epi64(v3[g], 32));
      uint32_t* out = words + 4 * (j0 + 8 * g);
      _mm512_storeu_si512(out, _mm512_permutex2var_epi64(a, first_four, b));       // counters 0-3
      _mm512_storeu_si512(out + 16, _mm512_permutex2var_epi64(a, last_four, b));  // counters 4-7
    }
  }
}

}  // namespace
#endif

bool philox_isa_supported(PhiloxIsa isa) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2"), avx512 = __builtin_cpu_supports("avx512f");
  if (isa == PhiloxIsa::avx2) return avx2;
  if (isa == PhiloxIsa::avx512) return avx512;
  return true;
#else
  return isa == PhiloxIsa::portable;
#endif
}

void philox_block_with(PhiloxIsa isa, uint64_t first_counter, uint64_t stream, uint64_t seed, uint32_t* words) {
#if defined(__x86_64__)
  if (isa == PhiloxIsa::avx512) return philox_block_avx512(first_counter, stream, seed, words);
  if (isa == PhiloxIsa::avx2) return philox_block_avx2(first_counter, stream, seed, words);
#endif
  philox_block_portable(first_counter, stream, seed, words);
}

void philox_block(uint64_t first_counter, uint64_t stream, uint64_t seed, uint32_t* words) {
  static const PhiloxIsa best = philox_isa_supported(PhiloxIsa::avx512) ? PhiloxIsa::avx512
                                : philox_isa_supported(PhiloxIsa::avx2) ? PhiloxIsa::avx2
                                                                        : PhiloxIsa::portable;
  philox_block_with(best, first_counter, stream, seed, words);
}

}  // namespace cxr::kernels::cpu
