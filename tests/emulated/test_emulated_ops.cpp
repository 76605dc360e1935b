// The rest of our CUDA kernels (element-wise, activations, dropout, pooling, zero padding, losses,
// optimizers, the sum), run from their own source on the CPU emulator, against the CPU kernels: bit
// for bit where kernels/<op>.h promises it, else within the stated rounding. Sizes cover the float4
// path, its scalar tail and misaligned pointers (map.cuh), and several grid-stride rounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/global_pool.h"
#include "kernels/loss.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "kernels/zero_pad2d.h"

namespace cxr::kernels {
namespace {

std::vector<float> randoms(size_t n, uint32_t seed, float lo = -4.0f, float hi = 4.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// |cpu - emulated| <= tolerance * (1 + |cpu|); tolerance 0: the same bits.
void expect_close(const float* cpu, const float* emulated, size_t n, double tolerance, const std::string& what) {
  int bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool ok = tolerance == 0.0 ? std::memcmp(cpu + i, emulated + i, sizeof(float)) == 0
                                     : std::fabs(static_cast<double>(cpu[i]) - emulated[i]) <=
                                           tolerance * (1.0 + std::fabs(cpu[i]));
    if (!ok && ++bad <= 3) ADD_FAILURE() << what << " element " << i << ": CPU " << cpu[i] << ", emulated " << emulated[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

// Fills an output with NaN before a kernel writes it, so that an element the kernel leaves alone
// fails the comparison instead of keeping an earlier call's right answer.
void poison(std::vector<float>& out) { std::fill(out.begin(), out.end(), std::numeric_limits<float>::quiet_NaN()); }

// The last two: past 3 blocks x 256 threads x float4, twice (two quads per round) and three times (a
// round of two, then one).
const int64_t kSizes[] = {1, 5, 1027, 3 * 256 * 4 * 2 + 3, 3 * 256 * 4 * 3 + 3};

TEST(EmulatedCuda, ElementwiseAndActivationsMatchTheCpu) {
  for (int64_t n : kSizes)
    for (int offset : {0, 1}) {  // 1: pointers off 16-byte alignment, the scalar path
      const std::string what = "n " + std::to_string(n) + (offset ? " unaligned" : "");
      const size_t size = static_cast<size_t>(n) + 1;
      const auto a0 = randoms(size, 1), b0 = randoms(size, 2);
      const float* a = a0.data() + offset;
      const float* b = b0.data() + offset;
      std::vector<float> want(size), got(size);
      auto check = [&](const std::string& op, double tolerance) {
        expect_close(want.data() + offset, got.data() + offset, static_cast<size_t>(n), tolerance, what + " " + op);
        poison(got);  // for the next kernel
      };
      cpu::add(n, a, b, want.data() + offset), cuda::add(n, a, b, got.data() + offset), check("add", 0);
      cpu::mul(n, a, b, want.data() + offset), cuda::mul(n, a, b, got.data() + offset), check("mul", 0);
      cpu::scale(n, 0.3f, a, want.data() + offset), cuda::scale(n, 0.3f, a, got.data() + offset), check("scale", 0);
      cpu::fill(n, 2.5f, want.data() + offset), cuda::fill(n, 2.5f, got.data() + offset), check("fill", 0);
      want = b0, got = b0;
      cpu::accumulate(n, a, want.data() + offset), cuda::accumulate(n, a, got.data() + offset), check("accumulate", 0);
      const float value = 1.75f;
      cuda::broadcast_fill(n, &value, got.data() + offset), cpu::fill(n, value, want.data() + offset), check("broadcast", 0);
      cpu::relu_forward(n, a, want.data() + offset), cuda::relu_forward(n, a, got.data() + offset), check("relu", 0);
      cpu::relu_backward(n, a, b, want.data() + offset), cuda::relu_backward(n, a, b, got.data() + offset);
      check("relu backward", 0);
      cpu::sigmoid_forward(n, a, want.data() + offset), cuda::sigmoid_forward(n, a, got.data() + offset);
      check("sigmoid", 1e-6);
      cpu::sigmoid_backward(n, a, b, want.data() + offset), cuda::sigmoid_backward(n, a, b, got.data() + offset);
      check("sigmoid backward", 0);
      float sum_cpu = 0, sum_emulated = 0;
      cpu::sum(n, a, &sum_cpu), cuda::sum(n, a, &sum_emulated);
      expect_close(&sum_cpu, &sum_emulated, 1, 1e-7, what + " sum");
    }
}

// relu keeps NaN (and turns -0 into +0) in the CUDA kernels as on the CPU, alone and after dropout,
// on the float4 path and the float one.
TEST(EmulatedCuda, ReluKeepsNaNAsTheCpuDoes) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t n : kSizes)
    for (int offset : {0, 1}) {
      const std::string what = "n " + std::to_string(n) + (offset ? " unaligned" : "");
      const size_t size = static_cast<size_t>(n) + 1;
      auto x = randoms(size, 6);
      for (size_t i = 0; i < size; i += 3) x[i] = i % 4 == 0 ? nan : i % 4 == 1 ? -0.0f : i % 4 == 2 ? inf : -inf;
      std::vector<float> want(size), got(size);
      cpu::relu_forward(n, x.data() + offset, want.data() + offset);
      std::fill(got.begin(), got.end(), 1e30f);  // not NaN: x's own NaNs must be kept, and told apart
      cuda::relu_forward(n, x.data() + offset, got.data() + offset);
      expect_close(want.data() + offset, got.data() + offset, static_cast<size_t>(n), 0, what + " relu");
      for (int64_t i = 0; i < n; ++i)
        if (std::isnan(x[static_cast<size_t>(i + offset)]))
          ASSERT_TRUE(std::isnan(want[static_cast<size_t>(i + offset)])) << what << " element " << i;
      cpu::dropout_relu_forward(n, 0.0f, 42, 7, x.data() + offset, want.data() + offset);
      std::fill(got.begin(), got.end(), 1e30f);  // not NaN: x's own NaNs must be kept, and told apart
      cuda::dropout_relu_forward(n, 0.0f, 42, 7, x.data() + offset, got.data() + offset);
      expect_close(want.data() + offset, got.data() + offset, static_cast<size_t>(n), 0, what + " dropout-relu");
    }
}

// Aligned buffers take the kernel's float4 path, offset ones its float path: the same bits.
TEST(EmulatedCuda, DropoutMasksAreTheCpus) {
  for (int64_t n : kSizes)
    for (float rate : {0.2f, 0.5f})
      for (int offset : {0, 1}) {
        const std::string what = "n " + std::to_string(n) + " rate " + std::to_string(rate) + " offset " +
                                  std::to_string(offset);
        const auto x = randoms(static_cast<size_t>(n + offset), 3), dy = randoms(static_cast<size_t>(n + offset), 13);
        std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n + offset));
        cpu::dropout_forward(n, rate, 42, 7, x.data() + offset, want.data());
        poison(got);
        cuda::dropout_forward(n, rate, 42, 7, x.data() + offset, got.data() + offset);
        expect_close(want.data(), got.data() + offset, want.size(), 0, what + " forward");
        cpu::dropout_backward(n, rate, 42, 7, dy.data() + offset, want.data());
        poison(got);
        cuda::dropout_backward(n, rate, 42, 7, dy.data() + offset, got.data() + offset);
        expect_close(want.data(), got.data() + offset, want.size(), 0, what + " backward");
      }
}

// Dropout fused with relu: the CUDA kernel (float4 and float paths) and the CPU's block-wise twin
// give the bits of the CPU's two kernels, forward and backward (relu's gradient read from y).
TEST(EmulatedCuda, DropoutThenReluIsTheCpusTwoKernels) {
  for (int64_t n : kSizes)
    for (float rate : {0.0f, 0.5f})
      for (int offset : {0, 1}) {
        const std::string what = "n " + std::to_string(n) + " rate " + std::to_string(rate) + " offset " +
                                  std::to_string(offset);
        const size_t size = static_cast<size_t>(n);
        const auto x = randoms(size + offset, 4), dy = randoms(size + offset, 5);
        std::vector<float> want_y(size), want_dx(size), relu_grad(size), cpu_y(size), cpu_dx(size);
        std::vector<float> got_y(size + offset), got_dx(size + offset);
        poison(got_y), poison(got_dx);
        cpu::dropout_forward(n, rate, 42, 7, x.data() + offset, want_y.data());
        cpu::relu_forward(n, want_y.data(), want_y.data());
        cpu::relu_backward(n, want_y.data(), dy.data() + offset, relu_grad.data());
        cpu::dropout_backward(n, rate, 42, 7, relu_grad.data(), want_dx.data());
        cpu::dropout_relu_forward(n, rate, 42, 7, x.data() + offset, cpu_y.data());
        cpu::dropout_relu_backward(n, rate, cpu_y.data(), dy.data() + offset, cpu_dx.data());
        expect_close(want_y.data(), cpu_y.data(), size, 0, what + " CPU forward");
        expect_close(want_dx.data(), cpu_dx.data(), size, 0, what + " CPU backward");
        cuda::dropout_relu_forward(n, rate, 42, 7, x.data() + offset, got_y.data() + offset);
        expect_close(want_y.data(), got_y.data() + offset, size, 0, what + " forward");
        cuda::dropout_relu_backward(n, rate, got_y.data() + offset, dy.data() + offset, got_dx.data() + offset);
        expect_close(want_dx.data(), got_dx.data() + offset, size, 0, what + " backward");
      }
}

TEST(EmulatedCuda, PoolingAndPaddingMatchTheCpu) {
  struct Case {
    int N, H, W, C, pool, stride;
    bool same;
  };
  for (const Case c : {Case{2, 9, 9, 16, 2, 2, false}, {1, 11, 7, 5, 3, 2, true}, {2, 6, 6, 3, 3, 1, true}}) {
    const Pool2dShape s = make_pool2d_shape(c.N, c.H, c.W, c.C, c.pool, c.pool, c.stride, c.stride, c.same);
    const std::string what = "pool " + std::to_string(c.pool) + " stride " + std::to_string(c.stride) +
                             (c.same ? " same" : "") + " C " + std::to_string(c.C);
    const size_t in = static_cast<size_t>(s.N) * s.H * s.W * s.C, out = static_cast<size_t>(s.N) * s.OH * s.OW * s.C;
    auto x = randoms(in, 4);
    const auto dy = randoms(out, 5);
    // NaNs (the last one of a window is its output and takes its gradient) and infinities.
    for (size_t i = 5; i < in; i += 23) x[i] = i % 3 ? std::numeric_limits<float>::quiet_NaN() : -INFINITY;
    std::vector<float> y(out), ey(out), dx(in), edx(in);
    poison(ey), poison(edx);  // the backward writes every dx, zeros included
    cpu::maxpool2d_forward(s, x.data(), y.data()), cuda::maxpool2d_forward(s, x.data(), ey.data());
    expect_close(y.data(), ey.data(), out, 0, what + " max forward");
    cpu::maxpool2d_backward(s, x.data(), dy.data(), dx.data()), cuda::maxpool2d_backward(s, x.data(), dy.data(), edx.data());
    expect_close(dx.data(), edx.data(), in, 0, what + " max backward");
  }
  const int N = 3, HW = 37, C = 70;
  const auto x = randoms(static_cast<size_t>(N) * HW * C, 6), dy = randoms(static_cast<size_t>(N) * C, 7);
  std::vector<float> y(static_cast<size_t>(N) * C), ey(y.size()), dx(x.size()), edx(x.size());
  poison(ey), poison(edx);
  cpu::global_avg_pool2d_forward(N, HW, C, x.data(), y.data()), cuda::global_avg_pool2d_forward(N, HW, C, x.data(), ey.data());
  expect_close(y.data(), ey.data(), y.size(), 1e-6, "global average pool forward");
  cpu::global_avg_pool2d_backward(N, HW, C, dy.data(), dx.data());
  cuda::global_avg_pool2d_backward(N, HW, C, dy.data(), edx.data());
  expect_close(dx.data(), edx.data(), dx.size(), 0, "global average pool backward");
  const Pad2dShape p{2, 5, 4, 3, 1, 2, 0, 3};
  const auto px = randoms(static_cast<size_t>(p.N) * p.H * p.W * p.C, 8);
  const auto pdy = randoms(static_cast<size_t>(p.N) * p.OH() * p.OW() * p.C, 9);
  std::vector<float> py(pdy.size()), epy(pdy.size()), pdx(px.size()), epdx(px.size());
  poison(epy), poison(epdx);  // the padding's zeros are written too
  cpu::zero_pad2d_forward(p, px.data(), py.data()), cuda::zero_pad2d_forward(p, px.data(), epy.data());
  expect_close(py.data(), epy.data(), py.size(), 0, "zero padding forward");
  cpu::zero_pad2d_backward(p, pdy.data(), pdx.data()), cuda::zero_pad2d_backward(p, pdy.data(), epdx.data());
  expect_close(pdx.data(), epdx.data(), pdx.size(), 0, "zero padding backward");
}

TEST(EmulatedCuda, LossesAndOptimizersMatchTheCpu) {
  const int64_t n = 1000;
  const auto z = randoms(n, 10, -6.0f, 6.0f);
  std::vector<float> labels(n), w(n), ew(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = static_cast<float>(i % 3 == 0);
  cpu::label_weights(n, labels.data(), 0.7f, 1.9f, w.data()), cuda::label_weights(n, labels.data(), 0.7f, 1.9f, ew.data());
  expect_close(w.data(), ew.data(), w.size(), 0, "label weights");
  for (const float* weights : {static_cast<const float*>(nullptr), static_cast<const float*>(w.data())}) {
    const std::string what = weights ? "weighted BCE" : "BCE";
    const float loss = cpu::bce_logits_forward(n, z.data(), labels.data(), weights);
    float emulated_loss = 0;
    cuda::bce_logits_forward(n, z.data(), labels.data(), &emulated_loss, weights);
    expect_close(&loss, &emulated_loss, 1, 1e-6, what + " forward");
    const float grad_scale = 0.5f;
    std::vector<float> dz(n), edz(n);
    cpu::bce_logits_backward(n, z.data(), labels.data(), grad_scale, dz.data(), weights);
    cuda::bce_logits_backward(n, z.data(), labels.data(), &grad_scale, edz.data(), weights);
    expect_close(dz.data(), edz.data(), dz.size(), 1e-6, what + " backward");
  }
  unsigned long long count = 5;  // the kernel adds to it
  cuda::binary_accuracy_count(n, z.data(), labels.data(), &count);
  EXPECT_EQ(static_cast<int64_t>(count) - 5, cpu::binary_accuracy_count(n, z.data(), labels.data()));

  const AdamParams adam{0.01f, 0.9f, 0.999f, 1e-7f};
  const auto grad = randoms(n, 11), start = randoms(n, 12);
  std::vector<float> param = start, m(n, 0.1f), v(n, 0.2f);
  std::vector<float> eparam = start, em = m, ev = v;
  for (int64_t t = 1; t <= 3; ++t) {
    cpu::adam_update(n, adam, t, param.data(), grad.data(), m.data(), v.data());
    cuda::adam_update(n, adam, t, eparam.data(), grad.data(), em.data(), ev.data());
  }
  expect_close(param.data(), eparam.data(), param.size(), 0, "Adam parameters");
  expect_close(v.data(), ev.data(), v.size(), 0, "Adam second moments");
  std::vector<float> mparam = start, mm(n, 0.1f), mv(n, 0.2f);
  const AdamTensor tensors[2] = {{mparam.data(), grad.data(), mm.data(), mv.data(), 300},
                                 {mparam.data() + 300, grad.data() + 300, mm.data() + 300, mv.data() + 300, n - 300}};
  for (int64_t t = 1; t <= 3; ++t) cuda::adam_update_multi(tensors, 2, adam, t);
  expect_close(param.data(), mparam.data(), param.size(), 0, "multi-tensor Adam parameters");
  std::vector<float> sgd = start, esgd = start;
  cpu::sgd_update(n, 0.1f, sgd.data(), grad.data()), cuda::sgd_update(n, 0.1f, esgd.data(), grad.data());
  expect_close(sgd.data(), esgd.data(), sgd.size(), 0, "SGD");
}

// The fused Adam spreads its blocks over the tensors by size: empty tensors (first, between and
// last), tensors shorter than, equal to and past a block's chunk of 2,048, on 16-byte boundaries
// (float4s; 5003 over three blocks, ending in a partial float4) and off them (single floats), and
// more tensors than one launch holds (80), each updated bit for bit as the CPU does.
TEST(EmulatedCuda, MultiTensorAdamUpdatesEveryTensorLikeTheCpu) {
  std::vector<int64_t> sizes = {0, 1, 1023, 0, 1024, 5003, 1025, 3000};
  for (int i = 0; i < 80; ++i) sizes.push_back(i % 7 == 0 ? 0 : 3 + 37 * i % 200);
  sizes.push_back(0);
  int64_t total = 0;
  for (int64_t n : sizes) total += n;
  const AdamParams adam{0.01f, 0.9f, 0.999f, 1e-7f};
  const auto grad = randoms(static_cast<size_t>(total), 21), start = randoms(static_cast<size_t>(total), 22);
  std::vector<float> param = start, m(grad.size(), 0.1f), v(grad.size(), 0.2f);
  std::vector<float> eparam = start, em = m, ev = v;
  std::vector<AdamTensor> tensors;
  int64_t at = 0;
  for (int64_t n : sizes) {
    tensors.push_back({eparam.data() + at, grad.data() + at, em.data() + at, ev.data() + at, n});
    at += n;
  }
  for (int64_t t = 1; t <= 2; ++t) {
    cpu::adam_update(total, adam, t, param.data(), grad.data(), m.data(), v.data());
    cuda::adam_update_multi(tensors.data(), static_cast<int>(tensors.size()), adam, t);
  }
  expect_close(param.data(), eparam.data(), param.size(), 0, "parameters");
  expect_close(m.data(), em.data(), m.size(), 0, "first moments");
  expect_close(v.data(), ev.data(), v.size(), 0, "second moments");
}

}  // namespace
}  // namespace cxr::kernels
