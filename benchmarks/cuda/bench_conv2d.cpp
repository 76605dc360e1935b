// Convolution on the GPU: the custom implicit-GEMM kernels against cuDNN, at every convolution of
// the experiments (common/shapes.h), forward and backward (dx + dw + dbias; no dx for a model's first
// layer; forward only for experiment 4's frozen layers). Each variant's result is checked against the
// CPU reference before anything is timed; a variant that fails is reported, not timed, and so is a
// "vendor" one on which cuDNN let the custom kernel stand in.
#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/conv2d.h"

namespace cxr::bench {
namespace {

struct Tensors {
  kernels::Conv2dShape s;
  std::vector<float> hx, hw, hb, hdy;
  DeviceBuffer x, w, b, dy, y, dx, dw, db;
  explicit Tensors(const ConvCase& c)
      : s(conv_shape(c)),
        hx(random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C, 1)),
        hw(random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, 2)),
        hb(random_vector(s.K, 3)),
        hdy(random_vector(static_cast<size_t>(s.N) * s.OH * s.OW * s.K, 4)),
        x(hx), w(hw), b(hb), dy(hdy),
        y(static_cast<int64_t>(hdy.size())), dx(static_cast<int64_t>(hx.size())),
        dw(static_cast<int64_t>(hw.size())), db(s.K) {}
};

double tolerance(double terms) { return 1e-5 * terms + 1e-4; }  // sums of products of values in [-1, 1)

// Runs the first (checked) call; false, with the benchmark skipped, when a vendor call fell back to
// the custom kernels (kernels/conv2d.h): its time would be theirs under cuDNN's name.
template <class Run>
bool first_call(benchmark::State& state, Impl impl, Run run) {
  const int64_t before = kernels::vendor::conv2d_custom_fallbacks();
  run();
  if (impl == Impl::Vendor && kernels::vendor::conv2d_custom_fallbacks() != before) {
    state.SkipWithError("cuDNN ran none of its own algorithms here (the custom kernel stood in): not timed");
    return false;
  }
  return true;
}

void forward(benchmark::State& state, const ConvCase& c, Impl impl) {
  Tensors t(c);
  auto run = [&] {
    if (impl == Impl::Custom) kernels::cuda::conv2d_forward(t.s, t.x.get(), t.w.get(), t.b.get(), t.y.get());
    else kernels::vendor::conv2d_forward(t.s, t.x.get(), t.w.get(), t.b.get(), t.y.get());
  };
  if (!first_call(state, impl, run)) return;
  std::vector<float> ref(t.hdy.size());
  kernels::cpu::conv2d_forward(t.s, t.hx.data(), t.hw.data(), t.hb.data(), ref.data());
  if (!matches(state, "y", ref, t.y.to_host(), tolerance(t.s.R * t.s.S * t.s.C), 1e-4)) return;
  time_gpu(state, {conv_forward_flops(t.s), 0}, run);
}

void backward(benchmark::State& state, const ConvCase& c, Impl impl) {
  Tensors t(c);
  float* dx = c.input_grad ? t.dx.get() : nullptr;
  auto run = [&] {
    if (impl == Impl::Custom) kernels::cuda::conv2d_backward(t.s, t.x.get(), t.w.get(), t.dy.get(), dx, t.dw.get(), t.db.get());
    else kernels::vendor::conv2d_backward(t.s, t.x.get(), t.w.get(), t.dy.get(), dx, t.dw.get(), t.db.get());
  };
  if (!first_call(state, impl, run)) return;
  const auto& s = t.s;
  std::vector<float> rdx(t.hx.size()), rdw(t.hw.size()), rdb(s.K);
  kernels::cpu::conv2d_backward(s, t.hx.data(), t.hw.data(), t.hdy.data(), dx ? rdx.data() : nullptr, rdw.data(),
                                rdb.data());
  const double pixels = static_cast<double>(s.N) * s.OH * s.OW;
  if ((dx && !matches(state, "dx", rdx, t.dx.to_host(), tolerance(s.R * s.S * s.K), 1e-4)) ||
      !matches(state, "dw", rdw, t.dw.to_host(), tolerance(pixels), 1e-4) ||
      !matches(state, "dbias", rdb, t.db.to_host(), tolerance(pixels), 1e-4))
    return;
  time_gpu(state, {conv_forward_flops(s) * (dx ? 2 : 1), 0}, run);
}

const bool registered = [] {
  for (const ConvCase& c : conv_cases()) {
    add_both("conv2d_forward", c.name, [&c](benchmark::State& st, Impl impl) { forward(st, c, impl); });
    if (!c.forward_only)
      add_both("conv2d_backward", c.name, [&c](benchmark::State& st, Impl impl) { backward(st, c, impl); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
