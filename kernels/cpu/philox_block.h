// Philox4x32-10 words for a block of counters at once: the random bits of the CPU dropout kernels
// (kernels/cpu/dropout.cpp). The same words as kernels/philox.h's philox4x32_10 one counter at a
// time, computed lane-parallel: a portable loop GCC vectorises, and AVX2 where the CPU has it.
#pragma once
#include <cstdint>

namespace cxr::kernels::cpu {

constexpr int64_t kPhiloxBlockWords = 1024;                // 4 KB: stays in L1
constexpr int64_t kPhiloxBlockCounters = kPhiloxBlockWords / 4;  // each counter gives 4 words

// words[k] for k < kPhiloxBlockWords = word k%4 of philox4x32_10((first_counter + k/4, stream), seed):
// exactly the words philox_uniform numbers. Uses AVX2 when the CPU has it.
void philox_block(uint64_t first_counter, uint64_t stream, uint64_t seed, uint32_t* words);
// The same words without AVX2 (what philox_block runs on other CPUs); tests compare the two.
void philox_block_portable(uint64_t first_counter, uint64_t stream, uint64_t seed, uint32_t* words);

}  // namespace cxr::kernels::cpu
