// Philox4x32-10 words for a block of counters at once: the random bits of the CPU dropout kernels
// (kernels/cpu/dropout.cpp). The same words as kernels/philox.h's philox4x32_10 one counter at a
// time, computed lane-parallel: a portable loop GCC vectorises, AVX2 and AVX-512 where the CPU has them.
#pragma once
#include <cstdint>

namespace cxr::kernels::cpu {

constexpr int64_t kPhiloxBlockWords = 1024;                // 4 KB: stays in L1
constexpr int64_t kPhiloxBlockCounters = kPhiloxBlockWords / 4;  // each counter gives 4 words

// words[k] for k < kPhiloxBlockWords = word k%4 of philox4x32_10((first_counter + k/4, stream), seed):
// exactly the words philox_uniform numbers. Uses AVX-512 or AVX2 where the CPU has them.
void philox_block(uint64_t first_counter, uint64_t stream, uint64_t seed, uint32_t* words);

// The versions philox_block picks from, so that tests and benchmarks can run each one.
enum class PhiloxIsa { portable, avx2, avx512 };
bool philox_isa_supported(PhiloxIsa isa);  // whether this CPU runs it (portable: always)
// philox_block with the given version, which must be supported.
void philox_block_with(PhiloxIsa isa, uint64_t first_counter, uint64_t stream, uint64_t seed, uint32_t* words);

}  // namespace cxr::kernels::cpu
