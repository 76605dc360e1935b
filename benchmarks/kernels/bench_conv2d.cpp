// Conv2D forward and backward (dx + dw + dbias; no dx for a model's first layer, as in training)
// at every convolution of the experiments (common/shapes.h; forward only for experiment 4's frozen ones).
// Validated first against a direct convolution (common/reference.h) on a sample of outputs.
#include <random>
#include <vector>

#include "benchmarks/common/reference.h"
#include "benchmarks/kernels/bench_util.h"
#include "kernels/conv2d.h"

namespace cxr::bench {
namespace {

struct Buffers {
  kernels::Conv2dShape s;
  std::vector<float> x, w, b, dy, y, dx, dw, db;
  explicit Buffers(const ConvCase& c)
      : s(conv_shape(c)),
        x(random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C, 1)),
        w(random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, 2)),
        b(random_vector(s.K, 3)),
        dy(random_vector(static_cast<size_t>(s.N) * s.OH * s.OW * s.K, 4)),
        y(dy.size()),
        dx(x.size()),
        dw(w.size()),
        db(s.K) {}
};

// Sums of up to R*S*C products of values in [-1, 1): compare with a tolerance scaled to the length.
double sum_tolerance(double terms) { return 1e-5 * terms + 1e-4; }

void forward(benchmark::State& state, const ConvCase& c) {
  Buffers t(c);
  const auto& s = t.s;
  kernels::cpu::conv2d_forward(s, t.x.data(), t.w.data(), t.b.data(), t.y.data());
  const auto idx = sample_indices(static_cast<int64_t>(t.y.size()));
  std::vector<double> ref;
  for (int64_t i : idx) ref.push_back(reference::conv_forward_at(s, t.x.data(), t.w.data(), t.b.data(), i));
  if (!matches(state, "y", ref, gather(t.y, idx), sum_tolerance(s.R * s.S * s.C), 1e-5)) return;
  time_cpu(state, {conv_forward_flops(s), 0},
           [&] { kernels::cpu::conv2d_forward(s, t.x.data(), t.w.data(), t.b.data(), t.y.data()); });
}

void backward(benchmark::State& state, const ConvCase& c) {
  Buffers t(c);
  const auto& s = t.s;
  float* dx = c.input_grad ? t.dx.data() : nullptr;
  auto run = [&] { kernels::cpu::conv2d_backward(s, t.x.data(), t.w.data(), t.dy.data(), dx, t.dw.data(), t.db.data()); };
  run();
  // Every tap (r, s) at least once, each with a random filter and channel, then random entries: a
  // fault confined to some taps (the direct kernel's tap ranges at small batches, 5719a26) shows.
  // An entry sums N x OH x OW products in double, so the sample stays small.
  std::vector<int64_t> widx = sample_indices(static_cast<int64_t>(t.dw.size()), 32);
  std::mt19937_64 pick(7);
  for (int tap = 0; tap < s.R * s.S; ++tap)
    widx.push_back((static_cast<int64_t>(pick() % static_cast<uint64_t>(s.K)) * s.R * s.S + tap) * s.C +
                   static_cast<int64_t>(pick() % static_cast<uint64_t>(s.C)));
  std::vector<double> rdw;
  for (int64_t i : widx) rdw.push_back(reference::conv_dw_at(s, t.x.data(), t.dy.data(), i));
  // The bias gradient, timed with the rest: dy's sums over every output pixel, all K checked.
  std::vector<double> rdb(static_cast<size_t>(s.K), 0.0);
  for (size_t i = 0; i < t.dy.size(); ++i) rdb[i % static_cast<size_t>(s.K)] += t.dy[i];
  const double pixels = static_cast<double>(s.N) * s.OH * s.OW;
  if (!matches(state, "dw", rdw, gather(t.dw, widx), sum_tolerance(pixels), 1e-5) ||
      !matches(state, "db", rdb, t.db, sum_tolerance(pixels), 1e-5))
    return;
  if (dx) {
    const auto xidx = sample_indices(static_cast<int64_t>(t.dx.size()));
    std::vector<double> rdx;
    for (int64_t i : xidx) rdx.push_back(reference::conv_dx_at(s, t.w.data(), t.dy.data(), i));
    if (!matches(state, "dx", rdx, gather(t.dx, xidx), sum_tolerance(s.R * s.S * s.K), 1e-5)) return;
  }
  time_cpu(state, {conv_forward_flops(s) * (dx ? 2 : 1), 0}, run);  // dx and dw each cost one forward
}

const bool registered = [] {
  for (const ConvCase& c : conv_cases()) {
    add(std::string("conv2d_forward/") + c.name, [&c](benchmark::State& st) { forward(st, c); });
    if (!c.forward_only) add(std::string("conv2d_backward/") + c.name, [&c](benchmark::State& st) { backward(st, c); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
