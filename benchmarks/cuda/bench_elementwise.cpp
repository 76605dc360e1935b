// Memory-bound kernels on the GPU, in GB/s (compulsory bytes read + written over the event-timed
// kernel time) against the device-copy ceiling: relu and sigmoid (custom and cuDNN), dropout
// (custom Philox and cuDNN; custom fused with relu), the engine's elementwise kernels, sum and its
// gradient (broadcast_fill), experiment 4's ZeroPadding2D and GlobalAveragePooling2D, at the
// experiments' tensor sizes (common/shapes.h) and at 16M floats (64 MiB per tensor), which
// measures device memory rather than launch overhead. Each is validated against the CPU reference
// first.
#include <cmath>

#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/activation.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/global_pool.h"
#include "kernels/zero_pad2d.h"

namespace cxr::bench {
namespace {

namespace cuda = kernels::cuda;
namespace cpu = kernels::cpu;
namespace vendor = kernels::vendor;

std::vector<SizeCase> sizes() {
  std::vector<SizeCase> s = activation_cases();
  s.push_back({"n16M", int64_t{1} << 24, 0.5f});
  return s;
}

// An activation: forward y = f(x), backward dx = f'(.) * dy. Inputs: a = x (or y for sigmoid's
// backward), b = dy.
enum class Act { ReluForward, ReluBackward, SigmoidForward, SigmoidBackward };
const char* act_name(Act a) {
  const char* names[] = {"relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward"};
  return names[static_cast<int>(a)];
}

void activation(benchmark::State& state, Act act, int64_t n, Impl impl) {
  const auto hx = random_vector(static_cast<size_t>(n), 1, -4.0f, 4.0f), hdy = random_vector(static_cast<size_t>(n), 2);
  std::vector<float> hy(hx.size());  // the forward's output, which the backward passes read
  if (act == Act::SigmoidForward || act == Act::SigmoidBackward) cpu::sigmoid_forward(n, hx.data(), hy.data());
  else cpu::relu_forward(n, hx.data(), hy.data());
  DeviceBuffer x(hx), y(hy), dy(hdy), out(n);
  std::vector<float> ref(hx.size());
  int reads = 1;
  auto run = [&] {
    const bool v = impl == Impl::Vendor;
    switch (act) {
      case Act::ReluForward: v ? vendor::relu_forward(n, x.get(), out.get()) : cuda::relu_forward(n, x.get(), out.get()); break;
      case Act::ReluBackward:
        v ? vendor::relu_backward(n, x.get(), y.get(), dy.get(), out.get()) : cuda::relu_backward(n, x.get(), dy.get(), out.get());
        break;
      case Act::SigmoidForward:
        v ? vendor::sigmoid_forward(n, x.get(), out.get()) : cuda::sigmoid_forward(n, x.get(), out.get());
        break;
      case Act::SigmoidBackward:
        v ? vendor::sigmoid_backward(n, x.get(), y.get(), dy.get(), out.get())
          : cuda::sigmoid_backward(n, y.get(), dy.get(), out.get());
        break;
    }
  };
  switch (act) {
    case Act::ReluForward: cpu::relu_forward(n, hx.data(), ref.data()); break;
    case Act::ReluBackward:
      cpu::relu_backward(n, hx.data(), hdy.data(), ref.data());
      reads = 2;
      break;
    case Act::SigmoidForward: cpu::sigmoid_forward(n, hx.data(), ref.data()); break;
    case Act::SigmoidBackward:
      cpu::sigmoid_backward(n, hy.data(), hdy.data(), ref.data());
      reads = 2;
      break;
  }
  run();
  if (!matches(state, "y", ref, out.to_host(), 1e-6, 1e-5)) return;
  time_gpu(state, {0, 4.0 * static_cast<double>(n) * (reads + 1)}, run);
}

// Custom dropout draws the CPU's exact mask; cuDNN's comes from its own RNG, so it is checked for
// what it must be instead: every output 0 or x * scale, the kept fraction near 1 - rate, and a
// backward that keeps exactly what the forward kept.
void dropout(benchmark::State& state, int64_t n, float rate, bool backward, Impl impl) {
  const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
  const uint64_t seed = 42, stream = 3;
  const auto hx = random_vector(static_cast<size_t>(n), 1, 0.5f, 1.5f), hdy = random_vector(static_cast<size_t>(n), 2, 0.5f, 1.5f);
  DeviceBuffer x(hx), dy(hdy), y(n), dx(n);
  const size_t reserve_bytes = vendor::dropout_reserve_bytes(n);
  void* reserve = reserve_bytes ? cuda::device_alloc(reserve_bytes, "dropout reserve") : nullptr;
  auto forward = [&] {
    if (impl == Impl::Vendor) vendor::dropout_forward(n, rate, seed, stream, x.get(), y.get(), reserve, reserve_bytes);
    else cuda::dropout_forward(n, rate, seed, stream, x.get(), y.get());
  };
  auto run_backward = [&] {
    if (impl == Impl::Vendor) vendor::dropout_backward(n, rate, seed, stream, dy.get(), dx.get(), reserve, reserve_bytes);
    else cuda::dropout_backward(n, rate, seed, stream, dy.get(), dx.get());
  };
  forward();
  run_backward();
  const std::vector<float> gy = y.to_host(), gdx = dx.to_host();
  bool ok = true;
  if (impl == Impl::Custom) {
    std::vector<float> ry(gy.size()), rdx(gdx.size());
    cpu::dropout_forward(n, rate, seed, stream, hx.data(), ry.data());
    cpu::dropout_backward(n, rate, seed, stream, hdy.data(), rdx.data());
    ok = matches(state, "y", ry, gy, 0, 0) && matches(state, "dx", rdx, gdx, 0, 0);
  } else {
    int64_t kept = 0;
    std::vector<float> expect_y(gy.size()), expect_dx(gdx.size());
    for (int64_t i = 0; i < n; ++i) {
      const bool keep = gy[i] != 0.0f;  // x is never 0
      kept += keep;
      expect_y[i] = keep ? hx[i] * scale : 0.0f;
      expect_dx[i] = keep ? hdy[i] * scale : 0.0f;
    }
    const double fraction = static_cast<double>(kept) / static_cast<double>(n);
    ok = matches(state, "y", expect_y, gy, 0, 1e-6) && matches(state, "dx", expect_dx, gdx, 0, 1e-6) &&
         // 5 standard deviations of a fair draw's kept fraction: a correct cuDNN fails ~1 in 1.7 million.
         matches(state, "kept fraction", std::vector<double>{1.0 - rate}, std::vector<double>{fraction},
                 5.0 * std::sqrt(rate * (1.0 - rate) / static_cast<double>(n)), 0);
  }
  const Work work{0, 8.0 * static_cast<double>(n)};  // reads x (or dy), writes y (or dx); the mask is computed
  if (ok && backward) time_gpu(state, work, run_backward);
  if (ok && !backward) time_gpu(state, work, forward);
  if (reserve) cuda::device_free(reserve);
}

// Dropout fused with the relu after it (the model's Dropout -> Activation relu): validated against
// the CPU's two kernels bit for bit, timed against the pair it replaces (dropout_* plus relu_*: two
// passes each way). Forward reads x and writes y; backward reads y and dy and writes dx.
void dropout_relu(benchmark::State& state, int64_t n, float rate, bool backward) {
  const uint64_t seed = 42, stream = 3;
  const auto hx = random_vector(static_cast<size_t>(n), 1), hdy = random_vector(static_cast<size_t>(n), 2);
  DeviceBuffer x(hx), dy(hdy), y(n), dx(n);
  auto forward = [&] { cuda::dropout_relu_forward(n, rate, seed, stream, x.get(), y.get()); };
  auto run_backward = [&] { cuda::dropout_relu_backward(n, rate, y.get(), dy.get(), dx.get()); };
  forward();
  run_backward();
  std::vector<float> ry(static_cast<size_t>(n)), rg(static_cast<size_t>(n)), rdx(static_cast<size_t>(n));
  cpu::dropout_forward(n, rate, seed, stream, hx.data(), ry.data());
  cpu::relu_forward(n, ry.data(), ry.data());
  cpu::relu_backward(n, ry.data(), hdy.data(), rg.data());
  cpu::dropout_backward(n, rate, seed, stream, rg.data(), rdx.data());
  if (!matches(state, "y", ry, y.to_host(), 0, 0) || !matches(state, "dx", rdx, dx.to_host(), 0, 0)) return;
  if (backward) time_gpu(state, {0, 12.0 * static_cast<double>(n)}, run_backward);
  else time_gpu(state, {0, 8.0 * static_cast<double>(n)}, forward);
}

struct Map {
  const char* name;
  int reads;
  void (*gpu)(int64_t n, const float* a, const float* b, float* y);
  void (*cpu)(int64_t n, const float* a, const float* b, float* y);
};
const Map kMaps[] = {
    {"add", 2, [](int64_t n, const float* a, const float* b, float* y) { cuda::add(n, a, b, y); },
     [](int64_t n, const float* a, const float* b, float* y) { cpu::add(n, a, b, y); }},
    {"accumulate", 2, [](int64_t n, const float* a, const float*, float* y) { cuda::accumulate(n, a, y); },
     [](int64_t n, const float* a, const float*, float* y) { cpu::accumulate(n, a, y); }},
    {"scale", 1, [](int64_t n, const float* a, const float*, float* y) { cuda::scale(n, 0.9f, a, y); },
     [](int64_t n, const float* a, const float*, float* y) { cpu::scale(n, 0.9f, a, y); }},
    {"mul", 2, [](int64_t n, const float* a, const float* b, float* y) { cuda::mul(n, a, b, y); },
     [](int64_t n, const float* a, const float* b, float* y) { cpu::mul(n, a, b, y); }},
    {"fill", 0, [](int64_t n, const float*, const float*, float* y) { cuda::fill(n, 0.5f, y); },
     [](int64_t n, const float*, const float*, float* y) { cpu::fill(n, 0.5f, y); }},
};

void map(benchmark::State& state, const Map& m, int64_t n) {
  const auto ha = random_vector(static_cast<size_t>(n), 1), hb = random_vector(static_cast<size_t>(n), 2);
  auto ref = random_vector(static_cast<size_t>(n), 3);
  DeviceBuffer a(ha), b(hb), y(ref);  // y starts as the same values on both sides (accumulate reads it)
  m.gpu(n, a.get(), b.get(), y.get());
  m.cpu(n, ha.data(), hb.data(), ref.data());
  if (!matches(state, "y", ref, y.to_host(), 0, 1e-6)) return;
  time_gpu(state, {0, 4.0 * static_cast<double>(n) * (m.reads + 1)}, [&] { m.gpu(n, a.get(), b.get(), y.get()); });
}

void sum(benchmark::State& state, int64_t n) {
  const auto hx = random_vector(static_cast<size_t>(n));
  DeviceBuffer x(hx), out(1);
  float ref = 0;
  cpu::sum(n, hx.data(), &ref);
  cuda::sum(n, x.get(), out.get());
  if (!matches(state, "sum", std::vector<float>{ref}, out.to_host(), 1e-3, 1e-5)) return;
  time_gpu(state, {0, 4.0 * static_cast<double>(n)}, [&] { cuda::sum(n, x.get(), out.get()); });
}

// sum's gradient: the scalar, read from the device, written to every element (writes 4 bytes each).
void broadcast_fill(benchmark::State& state, int64_t n) {
  const float value = 0.375f;
  DeviceBuffer g(std::vector<float>{value}), y(n);
  cuda::broadcast_fill(n, g.get(), y.get());
  if (!matches(state, "y", std::vector<float>(static_cast<size_t>(n), value), y.to_host(), 0, 0)) return;
  time_gpu(state, {0, 4.0 * static_cast<double>(n)}, [&] { cuda::broadcast_fill(n, g.get(), y.get()); });
}

void zero_pad(benchmark::State& state, kernels::Pad2dShape s, bool backward) {
  const int64_t in = int64_t{s.N} * s.H * s.W * s.C, out = int64_t{s.N} * s.OH() * s.OW() * s.C;
  const auto hsrc = random_vector(static_cast<size_t>(backward ? out : in));
  std::vector<float> ref(static_cast<size_t>(backward ? in : out));
  DeviceBuffer src(hsrc), dst(static_cast<int64_t>(ref.size()));
  auto run = [&] {
    if (backward) cuda::zero_pad2d_backward(s, src.get(), dst.get());
    else cuda::zero_pad2d_forward(s, src.get(), dst.get());
  };
  run();
  if (backward) cpu::zero_pad2d_backward(s, hsrc.data(), ref.data());
  else cpu::zero_pad2d_forward(s, hsrc.data(), ref.data());
  if (!matches(state, backward ? "dx" : "y", ref, dst.to_host(), 0, 0)) return;
  time_gpu(state, {0, 4.0 * static_cast<double>(in + out)}, run);
}

void global_pool(benchmark::State& state, bool backward) {
  const int N = kBatch, HW = 4, C = 2048;  // post_relu 2x2x2048 -> 2048
  const auto hsrc = random_vector(static_cast<size_t>(N) * (backward ? 1 : HW) * C);
  std::vector<float> ref(static_cast<size_t>(N) * (backward ? HW : 1) * C);
  DeviceBuffer src(hsrc), dst(static_cast<int64_t>(ref.size()));
  auto run = [&] {
    if (backward) cuda::global_avg_pool2d_backward(N, HW, C, src.get(), dst.get());
    else cuda::global_avg_pool2d_forward(N, HW, C, src.get(), dst.get());
  };
  run();
  if (backward) cpu::global_avg_pool2d_backward(N, HW, C, hsrc.data(), ref.data());
  else cpu::global_avg_pool2d_forward(N, HW, C, hsrc.data(), ref.data());
  if (!matches(state, backward ? "dx" : "y", ref, dst.to_host(), 0, 0)) return;
  time_gpu(state, {0, 4.0 * static_cast<double>(hsrc.size() + ref.size())}, run);
}

// The ceiling's own kernel at each size: what "100%" means for small tensors.
void copy(benchmark::State& state, int64_t n) {
  DeviceBuffer x(random_vector(static_cast<size_t>(n))), y(n);
  time_gpu(state, {0, 8.0 * static_cast<double>(n)},
           [&] { cuda::copy_device_to_device(y.get(), x.get(), static_cast<size_t>(n) * sizeof(float)); });
}

const bool registered = [] {
  for (const SizeCase& c : sizes()) {
    for (Act a : {Act::ReluForward, Act::ReluBackward, Act::SigmoidForward, Act::SigmoidBackward})
      add_both(act_name(a), c.name, [a, n = c.n](benchmark::State& st, Impl i) { activation(st, a, n, i); });
    if (c.dropout_rate > 0) {  // a tensor a Dropout layer drops, at its rate
      const float rate = c.dropout_rate;
      for (bool backward : {false, true})
        add_both(backward ? "dropout_backward" : "dropout_forward", c.name,
                 [n = c.n, rate, backward](benchmark::State& st, Impl i) { dropout(st, n, rate, backward, i); });
      for (bool backward : {false, true})
        add(std::string(backward ? "dropout_relu_backward" : "dropout_relu_forward") + "/custom/" + c.name,
            [n = c.n, rate, backward](benchmark::State& st) {
              if (require_gpu(st)) dropout_relu(st, n, rate, backward);
            });
    }
    for (const Map& m : kMaps)
      add(std::string(m.name) + "/custom/" + c.name, [&m, n = c.n](benchmark::State& st) {
        if (require_gpu(st)) map(st, m, n);
      });
    add(std::string("sum/custom/") + c.name, [n = c.n](benchmark::State& st) {
      if (require_gpu(st)) sum(st, n);
    });
    add(std::string("broadcast_fill/custom/") + c.name, [n = c.n](benchmark::State& st) {
      if (require_gpu(st)) broadcast_fill(st, n);
    });
    add(std::string("copy/vendor/") + c.name, [n = c.n](benchmark::State& st) {
      if (require_gpu(st)) copy(st, n);
    });
  }
  // Copies of the bytes issue 7's batch norm and Adam targets count (bench_batchnorm_pool.cpp,
  // bench_loss_optim.cpp): x read and y written (12 bytes an element backward: x and dy read, dx
  // written), and Adam's 28 bytes a parameter (param, grad, m, v read; param, m, v written). The
  // target is set against the 512 MiB copy; these say what a copy of the same size reaches.
  int64_t bn1 = 0, params = 0;
  for (const RowsCase& c : batchnorm_cases())
    if (std::string(c.name) == "e3_bn1") bn1 = c.M * c.C;
  for (const ParamsCase& c : adam_cases())
    if (std::string(c.name) == "e3_params") params = c.n;
  for (const SizeCase& c : {SizeCase{"e3_bn1_forward", bn1}, SizeCase{"e3_bn1_backward", bn1 * 3 / 2},
                            SizeCase{"e3_params_adam", params * 7 / 2}})
    add(std::string("copy/vendor/") + c.name, [n = c.n](benchmark::State& st) {
      if (require_gpu(st)) copy(st, n);
    });
  const kernels::Pad2dShape stem{kBatch, 50, 50, 3, 3, 3, 3, 3}, block{kBatch, 13, 13, 64, 1, 1, 1, 1};
  for (bool backward : {false, true}) {
    const std::string dir = backward ? "backward" : "forward";
    add("zero_pad2d_" + dir + "/custom/e4_conv1_pad", [stem, backward](benchmark::State& st) {
      if (require_gpu(st)) zero_pad(st, stem, backward);
    });
    add("zero_pad2d_" + dir + "/custom/e4_conv2_pad", [block, backward](benchmark::State& st) {
      if (require_gpu(st)) zero_pad(st, block, backward);
    });
    add("global_avg_pool2d_" + dir + "/custom/e4_avg_pool", [backward](benchmark::State& st) {
      if (require_gpu(st)) global_pool(st, backward);
    });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
