// Activations (relu, sigmoid) and the engine's elementwise kernels (gradient accumulation, fills,
// sums) over the experiments' tensors, plus experiment 4's ZeroPadding2D and
// GlobalAveragePooling2D. Memory-bound: GB/s against the memcpy ceiling. Each is validated first
// against the one-line formula it implements.
#include <cmath>

#include "benchmarks/kernels/bench_util.h"
#include "kernels/activation.h"
#include "kernels/elementwise.h"
#include "kernels/global_pool.h"
#include "kernels/zero_pad2d.h"

namespace cxr::bench {
namespace {

namespace cpu = kernels::cpu;

// A kernel y = f(a, b) over n elements, the reference formula, and how many tensors it reads.
struct Map {
  const char* name;
  int reads;
  void (*kernel)(int64_t n, const float* a, const float* b, float* y);
  double (*formula)(double a, double b, double y_before);
};

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

const Map kMaps[] = {
    {"relu_forward", 1, [](int64_t n, const float* a, const float*, float* y) { cpu::relu_forward(n, a, y); },
     [](double a, double, double) { return a > 0 ? a : 0.0; }},
    {"relu_backward", 2, [](int64_t n, const float* a, const float* b, float* y) { cpu::relu_backward(n, a, b, y); },
     [](double a, double b, double) { return a > 0 ? b : 0.0; }},
    {"sigmoid_forward", 1, [](int64_t n, const float* a, const float*, float* y) { cpu::sigmoid_forward(n, a, y); },
     [](double a, double, double) { return sigmoid(a); }},
    {"sigmoid_backward", 2,
     [](int64_t n, const float* a, const float* b, float* y) { cpu::sigmoid_backward(n, a, b, y); },
     [](double a, double b, double) { return b * a * (1 - a); }},
    {"add", 2, [](int64_t n, const float* a, const float* b, float* y) { cpu::add(n, a, b, y); },
     [](double a, double b, double) { return a + b; }},
    {"accumulate", 2, [](int64_t n, const float* a, const float*, float* y) { cpu::accumulate(n, a, y); },
     [](double a, double, double y) { return y + a; }},  // reads y as its second input
    {"scale", 1, [](int64_t n, const float* a, const float*, float* y) { cpu::scale(n, 0.9f, a, y); },
     [](double a, double, double) { return 0.9f * a; }},
    {"mul", 2, [](int64_t n, const float* a, const float* b, float* y) { cpu::mul(n, a, b, y); },
     [](double a, double b, double) { return a * b; }},
    {"fill", 0, [](int64_t n, const float*, const float*, float* y) { cpu::fill(n, 0.5f, y); },
     [](double, double, double) { return 0.5; }},
};

void map(benchmark::State& state, const Map& m, int64_t n) {
  const auto a = random_vector(n, 1), b = random_vector(n, 2);
  std::vector<float> y = random_vector(n, 3);
  std::vector<double> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = m.formula(a[i], b[i], y[i]);
  m.kernel(n, a.data(), b.data(), y.data());
  if (!matches(state, "y", ref, y, 1e-6, 1e-6)) return;
  time_cpu(state, {0, 4.0 * static_cast<double>(n) * (m.reads + 1)}, [&] { m.kernel(n, a.data(), b.data(), y.data()); });
}

void sum(benchmark::State& state, int64_t n) {
  const auto x = random_vector(n);
  float out = 0;
  cpu::sum(n, x.data(), &out);
  double ref = 0;
  for (float v : x) ref += v;
  if (!matches(state, "sum", std::vector<double>{ref}, std::vector<float>{out}, 1e-4, 1e-6)) return;
  time_cpu(state, {0, 4.0 * static_cast<double>(n)}, [&] { cpu::sum(n, x.data(), &out); });
}

// Experiment 4: conv1_pad (3 on each side of the 50x50x3 image) and conv2's 3x3 pads (1 around 13x13x64).
void zero_pad(benchmark::State& state, kernels::Pad2dShape s, bool backward) {
  const int64_t in = int64_t{s.N} * s.H * s.W * s.C, out = int64_t{s.N} * s.OH() * s.OW() * s.C;
  const auto x = random_vector(backward ? out : in);
  std::vector<float> y(backward ? in : out);
  auto run = [&] {
    if (backward) cpu::zero_pad2d_backward(s, x.data(), y.data());
    else cpu::zero_pad2d_forward(s, x.data(), y.data());
  };
  run();
  std::vector<double> ref(y.size());
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t h = 0; h < s.OH(); ++h)
      for (int64_t w = 0; w < s.OW(); ++w)
        for (int64_t c = 0; c < s.C; ++c) {
          const int64_t ih = h - s.top, iw = w - s.left;
          const bool inside = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
          const int64_t o = ((n * s.OH() + h) * s.OW() + w) * s.C + c, i = ((n * s.H + ih) * s.W + iw) * s.C + c;
          if (!backward) ref[o] = inside ? x[i] : 0.0;
          else if (inside) ref[i] = x[o];
        }
  if (!matches(state, backward ? "dx" : "y", ref, y, 0, 0)) return;
  time_cpu(state, {0, 4.0 * static_cast<double>(in + out)}, run);
}

// post_relu 2x2x2048 -> 2048 (experiment 4's GlobalAveragePooling2D).
void global_pool(benchmark::State& state, bool backward) {
  const int N = kBatch, HW = 4, C = 2048;
  const auto x = random_vector(static_cast<size_t>(N) * (backward ? 1 : HW) * C);
  std::vector<float> y(static_cast<size_t>(N) * (backward ? HW : 1) * C);
  auto run = [&] {
    if (backward) cpu::global_avg_pool2d_backward(N, HW, C, x.data(), y.data());
    else cpu::global_avg_pool2d_forward(N, HW, C, x.data(), y.data());
  };
  run();
  std::vector<double> ref(y.size(), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < HW; ++p)
      for (int64_t c = 0; c < C; ++c) {
        if (backward) ref[(n * HW + p) * C + c] = x[n * C + c] / static_cast<double>(HW);
        else ref[n * C + c] += x[(n * HW + p) * C + c] / static_cast<double>(HW);
      }
  if (!matches(state, backward ? "dx" : "y", ref, y, 1e-6, 1e-6)) return;
  time_cpu(state, {0, 4.0 * static_cast<double>(x.size() + y.size())}, run);
}

const bool registered = [] {
  for (const Map& m : kMaps)
    for (const SizeCase& c : activation_cases())
      add(std::string(m.name) + "/" + c.name, [&m, n = c.n](benchmark::State& st) { map(st, m, n); });
  for (const SizeCase& c : activation_cases())
    add(std::string("sum/") + c.name, [n = c.n](benchmark::State& st) { sum(st, n); });
  const kernels::Pad2dShape stem{kBatch, 50, 50, 3, 3, 3, 3, 3}, block{kBatch, 13, 13, 64, 1, 1, 1, 1};
  add("zero_pad2d_forward/e4_conv1_pad", [stem](benchmark::State& st) { zero_pad(st, stem, false); });
  add("zero_pad2d_backward/e4_conv1_pad", [stem](benchmark::State& st) { zero_pad(st, stem, true); });
  add("zero_pad2d_forward/e4_conv2_pad", [block](benchmark::State& st) { zero_pad(st, block, false); });
  add("zero_pad2d_backward/e4_conv2_pad", [block](benchmark::State& st) { zero_pad(st, block, true); });
  add("global_avg_pool2d_forward/e4_avg_pool", [](benchmark::State& st) { global_pool(st, false); });
  add("global_avg_pool2d_backward/e4_avg_pool", [](benchmark::State& st) { global_pool(st, true); });
  return true;
}();

}  // namespace
}  // namespace cxr::bench
