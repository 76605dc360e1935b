// SGEMM and Dense on the GPU: the custom tiled kernel against cuBLAS (plain FP32, no TF32), square
// 1024..8192, and the experiments' Dense layers forward and backward. Checked against OpenBLAS
// before timing: whole results for Dense; for the squares a 64-row slice of C and 257 entries spread
// over all of it (the slice alone lies inside the custom kernel's first row of 128-row tiles).
#include "benchmarks/common/reference.h"
#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/dense.h"

namespace cxr::bench {
namespace {

void sgemm(benchmark::State& state, int n, Impl impl) {
  const int64_t nn = int64_t{n} * n;
  const auto ha = random_vector(static_cast<size_t>(nn), 1), hb = random_vector(static_cast<size_t>(nn), 2);
  DeviceBuffer a(ha), b(hb), c(nn);
  auto run = [&] {
    if (impl == Impl::Vendor) kernels::vendor::sgemm(false, false, n, n, n, 1.0f, a.get(), b.get(), 0.0f, c.get());
    else kernels::cuda::sgemm(false, false, n, n, n, 1.0f, a.get(), b.get(), 0.0f, c.get());
  };
  run();
  const int rows = 64;
  std::vector<float> ref(static_cast<size_t>(rows) * n);
  kernels::cpu::sgemm(false, false, rows, n, n, 1.0f, ha.data(), hb.data(), 0.0f, ref.data());
  std::vector<float> got = c.to_host();
  std::vector<float> spread_ref, spread_got;
  for (const int64_t i : sample_indices(nn)) {
    spread_ref.push_back(static_cast<float>(reference::gemm_at(false, false, n, n, n, ha.data(), hb.data(), i)));
    spread_got.push_back(got[static_cast<size_t>(i)]);
  }
  got.resize(ref.size());
  if (!matches(state, "C", ref, got, 1e-5 * n + 1e-4, 1e-4) ||
      !matches(state, "C (spread)", spread_ref, spread_got, 1e-5 * n + 1e-4, 1e-4))
    return;
  time_gpu(state, {2.0 * static_cast<double>(nn) * n, 0}, run);
}

void dense_forward(benchmark::State& state, const DenseCase& d, Impl impl) {
  const int B = kBatch;
  const auto hx = random_vector(static_cast<size_t>(B) * d.in, 1), hw = random_vector(static_cast<size_t>(d.in) * d.out, 2);
  const auto hb = random_vector(d.out, 3);
  DeviceBuffer x(hx), w(hw), b(hb), y(int64_t{B} * d.out);
  auto run = [&] {
    if (impl == Impl::Vendor) kernels::vendor::dense_forward(B, d.in, d.out, x.get(), w.get(), b.get(), y.get());
    else kernels::cuda::dense_forward(B, d.in, d.out, x.get(), w.get(), b.get(), y.get());
  };
  run();
  std::vector<float> ref(static_cast<size_t>(B) * d.out);
  kernels::cpu::dense_forward(B, d.in, d.out, hx.data(), hw.data(), hb.data(), ref.data());
  if (!matches(state, "y", ref, y.to_host(), 1e-5 * d.in + 1e-4, 1e-4)) return;
  time_gpu(state, {2.0 * B * d.in * d.out, 0}, run);
}

void dense_backward(benchmark::State& state, const DenseCase& d, Impl impl) {
  const int B = kBatch;
  const auto hx = random_vector(static_cast<size_t>(B) * d.in, 1), hw = random_vector(static_cast<size_t>(d.in) * d.out, 2);
  const auto hdy = random_vector(static_cast<size_t>(B) * d.out, 3);
  DeviceBuffer x(hx), w(hw), dy(hdy), dx(static_cast<int64_t>(hx.size())), dw(static_cast<int64_t>(hw.size())), db(d.out);
  auto run = [&] {
    if (impl == Impl::Vendor)
      kernels::vendor::dense_backward(B, d.in, d.out, x.get(), w.get(), dy.get(), dx.get(), dw.get(), db.get());
    else kernels::cuda::dense_backward(B, d.in, d.out, x.get(), w.get(), dy.get(), dx.get(), dw.get(), db.get());
  };
  run();
  std::vector<float> rdx(hx.size()), rdw(hw.size()), rdb(d.out);
  kernels::cpu::dense_backward(B, d.in, d.out, hx.data(), hw.data(), hdy.data(), rdx.data(), rdw.data(), rdb.data());
  if (!matches(state, "dx", rdx, dx.to_host(), 1e-5 * d.out + 1e-4, 1e-4) ||
      !matches(state, "dw", rdw, dw.to_host(), 1e-5 * B + 1e-4, 1e-4) ||
      !matches(state, "dbias", rdb, db.to_host(), 1e-5 * B + 1e-4, 1e-4))
    return;
  time_gpu(state, {4.0 * B * d.in * d.out, 0}, run);
}

const bool registered = [] {
  for (int n : {1024, 2048, 4096, 8192})
    add_both("sgemm", "n" + std::to_string(n), [n](benchmark::State& st, Impl impl) { sgemm(st, n, impl); });
  for (const DenseCase& d : dense_cases()) {
    add_both("dense_forward", d.name, [&d](benchmark::State& st, Impl impl) { dense_forward(st, d, impl); });
    add_both("dense_backward", d.name, [&d](benchmark::State& st, Impl impl) { dense_backward(st, d, impl); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
