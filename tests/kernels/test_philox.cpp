// Philox4x32-10: Random123's known-answer vectors (kat_vectors, Salmon et al.) for the scalar
// generator every device shares (kernels/philox.h), and the CPU's block generators
// (kernels/cpu/philox_block.h: AVX-512 and AVX2 where the CPU has them, and the portable loop) against it, word
// for word, including a block whose counters carry into their high 32 bits.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/cpu/philox_block.h"
#include "kernels/philox.h"

namespace cxr::kernels {
namespace {

TEST(Philox, KnownAnswerVectors) {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const Philox4x32 r = philox4x32_10(Philox4x32{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}}, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.out[i]) << "word " << i << " of counter " << std::hex << k.ctr[0];
  }
}

TEST(Philox, BlockGeneratorsGiveTheScalarWords) {
  const uint64_t seed = 0x0123456789abcdefULL, stream = 0xfedcba9876543210ULL;  // both halves matter
  const std::pair<cpu::PhiloxIsa, const char*> versions[] = {
      {cpu::PhiloxIsa::portable, "portable"}, {cpu::PhiloxIsa::avx2, "AVX2"}, {cpu::PhiloxIsa::avx512, "AVX-512"}};
  for (const auto& [isa, name] : versions) {
    if (!cpu::philox_isa_supported(isa)) continue;  // this CPU lacks it (the portable one always runs)
    // Counters from 2^32 - 100 and from 2^32 - 8 run across 2^32 (the high word must carry) inside
    // a group of 16 and of 8 counters.
    const uint64_t high = uint64_t{1} << 32;
    for (const uint64_t first : {uint64_t{0}, high - 100, high - 8, uint64_t{0x123456789}}) {
      std::vector<uint32_t> words(cpu::kPhiloxBlockWords);
      cpu::philox_block_with(isa, first, stream, seed, words.data());
      for (int64_t k = 0; k < cpu::kPhiloxBlockWords; ++k) {
        const uint64_t counter = first + static_cast<uint64_t>(k / 4);
        const Philox4x32 r = philox4x32_10(
            Philox4x32{{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                        static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}},
            static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
        ASSERT_EQ(words[k], r.v[k % 4]) << name << ", first counter " << first << ", word " << k;
      }
    }
  }
  // philox_block itself: the best version this CPU has.
  std::vector<uint32_t> best(cpu::kPhiloxBlockWords), portable(cpu::kPhiloxBlockWords);
  cpu::philox_block(77, stream, seed, best.data());
  cpu::philox_block_with(cpu::PhiloxIsa::portable, 77, stream, seed, portable.data());
  EXPECT_EQ(best, portable);
}

}  // namespace
}  // namespace cxr::kernels
