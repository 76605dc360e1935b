// Dropout forward and backward (a fresh Philox mask every step, as in training; the backward from a
// kept mask, which the engine uses on the CPU; and both fused with a relu after them) over the tensors
// the experiments drop, at the rates they use. Validated first element by element against
// philox_uniform (kernels/philox.h), which defines the mask. Also the Philox block generator the
// masks draw from, each of its versions alone on one thread.
#include <cstdint>
#include <iterator>
#include <utility>

#include "benchmarks/kernels/bench_util.h"
#include "kernels/activation.h"
#include "kernels/cpu/philox_block.h"
#include "kernels/dropout.h"
#include "kernels/philox.h"

namespace cxr::bench {
namespace {

constexpr uint64_t kSeed = 42;

void run_dropout(benchmark::State& state, const SizeCase& c, float rate, bool backward) {
  const int64_t n = c.n;
  const auto x = random_vector(n);
  std::vector<float> y(n);
  uint64_t step = 7;
  auto run = [&] {
    if (backward) kernels::cpu::dropout_backward(n, rate, kSeed, step, x.data(), y.data());
    else kernels::cpu::dropout_forward(n, rate, kSeed, step, x.data(), y.data());
  };
  run();
  const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
  std::vector<double> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = kernels::philox_uniform(kSeed, step, i) >= rate ? x[i] * scale : 0.0f;
  if (!matches(state, backward ? "dx" : "y", ref, y, 0, 1e-7)) return;
  time_cpu(state, {0, 8.0 * static_cast<double>(n)}, [&] {
    ++step;
    run();
  });
}

// The engine's CPU path: the forward keeps its mask, the backward applies it (no Philox).
void backward_keep(benchmark::State& state, const SizeCase& c, float rate) {
  const int64_t n = c.n;
  const auto x = random_vector(n), dy = random_vector(n, 2);
  std::vector<float> y(n), dx(n), ref(n);
  std::vector<uint8_t> keep(n);
  kernels::cpu::dropout_forward_keep(n, rate, kSeed, 7, x.data(), y.data(), keep.data());
  kernels::cpu::dropout_backward(n, rate, kSeed, 7, dy.data(), ref.data());
  auto run = [&] { kernels::cpu::dropout_backward_keep(n, rate, keep.data(), dy.data(), dx.data()); };
  run();
  if (!matches(state, "dx", ref, dx, 0, 0)) return;
  time_cpu(state, {0, 9.0 * static_cast<double>(n)}, run);  // reads dy and the mask, writes dx
}

// Dropout fused with the relu after it (the engine's CPU path for a Dropout -> Activation relu):
// validated against the two kernels bit for bit; one pass over memory each way where they make two.
void dropout_relu(benchmark::State& state, const SizeCase& c, float rate, bool backward) {
  const int64_t n = c.n;
  const auto x = random_vector(n), dy = random_vector(n, 2);
  std::vector<float> y(n), dx(n), ref_y(n), ref_g(n), ref_dx(n);
  uint64_t step = 7;
  kernels::cpu::dropout_forward(n, rate, kSeed, step, x.data(), ref_y.data());
  kernels::cpu::relu_forward(n, ref_y.data(), ref_y.data());
  kernels::cpu::relu_backward(n, ref_y.data(), dy.data(), ref_g.data());
  kernels::cpu::dropout_backward(n, rate, kSeed, step, ref_g.data(), ref_dx.data());
  kernels::cpu::dropout_relu_forward(n, rate, kSeed, step, x.data(), y.data());
  kernels::cpu::dropout_relu_backward(n, rate, y.data(), dy.data(), dx.data());
  if (!matches(state, "y", ref_y, y, 0, 0) || !matches(state, "dx", ref_dx, dx, 0, 0)) return;
  if (backward)  // reads y and dy, writes dx
    time_cpu(state, {0, 12.0 * static_cast<double>(n)},
             [&] { kernels::cpu::dropout_relu_backward(n, rate, y.data(), dy.data(), dx.data()); });
  else  // reads x, writes y
    time_cpu(state, {0, 8.0 * static_cast<double>(n)}, [&] {
      ++step;
      kernels::cpu::dropout_relu_forward(n, rate, kSeed, step, x.data(), y.data());
    });
}

// One version of kernels/cpu/philox_block.h on the calling thread (the dropout kernels call it on
// each of theirs): 256 blocks of 1,024 words a call, written to a 1 MB buffer (L2), validated first
// against philox4x32_10 word by word. GB/s counts the words written (4 bytes each); ns/word from it.
void philox_block_version(benchmark::State& state, kernels::cpu::PhiloxIsa isa) {
  constexpr int64_t kBlocks = 256, kWords = kBlocks * kernels::cpu::kPhiloxBlockWords;
  constexpr uint64_t kStream = 0xfedcba9876543210ULL, kKey = 0x0123456789abcdefULL;  // both halves matter
  std::vector<uint32_t> words(kWords);
  uint64_t first = (uint64_t{1} << 32) - 1000;  // crosses 2^32: the high word must carry
  auto run = [&] {
    for (int64_t b = 0; b < kBlocks; ++b)
      kernels::cpu::philox_block_with(isa, first + b * kernels::cpu::kPhiloxBlockCounters, kStream, kKey,
                                      words.data() + b * kernels::cpu::kPhiloxBlockWords);
  };
  run();
  std::vector<double> ref(kWords), got(words.begin(), words.end());
  for (int64_t k = 0; k < kWords; ++k) {
    const uint64_t counter = first + static_cast<uint64_t>(k / 4);
    const kernels::Philox4x32 r = kernels::philox4x32_10(
        kernels::Philox4x32{{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                             static_cast<uint32_t>(kStream), static_cast<uint32_t>(kStream >> 32)}},
        static_cast<uint32_t>(kKey), static_cast<uint32_t>(kKey >> 32));
    ref[k] = r.v[k % 4];
  }
  if (!matches(state, "words", ref, got, 0, 0)) return;
  time_cpu(state, {0, 4.0 * kWords}, [&] {
    first += kWords / 4;
    run();
  });
  if (state.counters.count("GB/s")) state.counters["ns/word"] = 4.0 / state.counters["GB/s"];  // 4 bytes a word
}

const bool registered = [] {
  // Each version this CPU runs (the others are not registered: the portable one always is).
  for (const auto& [isa, name] : {std::pair{kernels::cpu::PhiloxIsa::portable, "portable"},
                                  std::pair{kernels::cpu::PhiloxIsa::avx2, "avx2"},
                                  std::pair{kernels::cpu::PhiloxIsa::avx512, "avx512"}})
    if (kernels::cpu::philox_isa_supported(isa))
      add(std::string("philox_block/") + name, [isa](benchmark::State& st) { philox_block_version(st, isa); });

  // Each tensor a Dropout layer drops, at its rate (experiment 4 drops only its head's Dense 64).
  for (const SizeCase& c : activation_cases()) {
    if (c.dropout_rate == 0) continue;
    const float rate = c.dropout_rate;
    add(std::string("dropout_forward/") + c.name, [&c, rate](benchmark::State& st) { run_dropout(st, c, rate, false); });
    add(std::string("dropout_backward/") + c.name, [&c, rate](benchmark::State& st) { run_dropout(st, c, rate, true); });
    add(std::string("dropout_backward_keep/") + c.name, [&c, rate](benchmark::State& st) { backward_keep(st, c, rate); });
    add(std::string("dropout_relu_forward/") + c.name,
        [&c, rate](benchmark::State& st) { dropout_relu(st, c, rate, false); });
    add(std::string("dropout_relu_backward/") + c.name,
        [&c, rate](benchmark::State& st) { dropout_relu(st, c, rate, true); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
