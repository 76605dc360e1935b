// MaxPooling2D forward and backward at the experiments' pooling layers (experiment 4: pool1 and the
// 1x1 stride-2 shortcut pool). Validated first against a plain window scan (first maximum wins).
#include "benchmarks/kernels/bench_util.h"
#include "kernels/pool.h"

namespace cxr::bench {
namespace {

// The index into x of each output's window maximum (first in row-major order), 'valid' padding.
std::vector<int64_t> argmax_reference(const kernels::Pool2dShape& s, const std::vector<float>& x) {
  std::vector<int64_t> arg;
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow)
        for (int c = 0; c < s.C; ++c) {
          int64_t best = -1;
          for (int i = 0; i < s.ph; ++i)
            for (int j = 0; j < s.pw; ++j) {
              const int64_t at = ((static_cast<int64_t>(n) * s.H + oh * s.sh + i) * s.W + ow * s.sw + j) * s.C + c;
              if (best < 0 || x[at] > x[best]) best = at;
            }
          arg.push_back(best);
        }
  return arg;
}

// Bytes, compulsory: forward reads the x its windows cover and writes y; backward reads those, and
// dy, and writes all of dx (zeros where no window reaches).
void forward(benchmark::State& state, const PoolCase& c) {
  const auto s = pool_shape(c);
  const auto x = random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C);
  std::vector<float> y(static_cast<size_t>(s.N) * s.OH * s.OW * s.C);
  kernels::cpu::maxpool2d_forward(s, x.data(), y.data());
  std::vector<double> ref;
  for (int64_t at : argmax_reference(s, x)) ref.push_back(x[at]);
  if (!matches(state, "y", ref, y, 0, 0)) return;
  time_cpu(state, {0, 4.0 * static_cast<double>(pooled_inputs(s) + static_cast<int64_t>(y.size()))},
           [&] { kernels::cpu::maxpool2d_forward(s, x.data(), y.data()); });
}

void backward(benchmark::State& state, const PoolCase& c) {
  const auto s = pool_shape(c);
  const auto x = random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C);
  const auto dy = random_vector(static_cast<size_t>(s.N) * s.OH * s.OW * s.C, 2);
  std::vector<float> dx(x.size());
  kernels::cpu::maxpool2d_backward(s, x.data(), dy.data(), dx.data());
  std::vector<double> ref(dx.size(), 0.0);
  const auto arg = argmax_reference(s, x);
  for (size_t o = 0; o < arg.size(); ++o) ref[arg[o]] += dy[o];
  if (!matches(state, "dx", ref, dx, 1e-6, 1e-6)) return;
  time_cpu(state, {0, 4.0 * static_cast<double>(pooled_inputs(s) + static_cast<int64_t>(dy.size() + dx.size()))},
           [&] { kernels::cpu::maxpool2d_backward(s, x.data(), dy.data(), dx.data()); });
}

const bool registered = [] {
  for (const PoolCase& c : pool_cases()) {
    add(std::string("maxpool2d_forward/") + c.name, [&c](benchmark::State& st) { forward(st, c); });
    add(std::string("maxpool2d_backward/") + c.name, [&c](benchmark::State& st) { backward(st, c); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
