// The CPU GEMM and convolution split over threads (kernels/cpu/parallel.h) give the same results on 1
// thread and on several: the same bits for the convolution, the last bits at most for a split GEMM
// (OpenBLAS's edge kernels), and the split results are still right. Sizes are chosen large enough
// that the work really splits.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/parallel.h"
#include "kernels/dense.h"

namespace cxr::kernels {
namespace {

using test::random_vector;

// Runs fn once with 1 thread and once with `threads`, restoring OpenMP's setting afterwards.
template <typename Result>
std::pair<Result, Result> one_and_many(int threads, const std::function<Result()>& fn) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  Result one = fn();
  omp_set_num_threads(threads);
  Result many = fn();
  omp_set_num_threads(saved);
  return {one, many};
}

void expect_bitwise_equal(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  size_t first = a.size();
  for (size_t i = 0; i < a.size() && first == a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) first = i;
  EXPECT_EQ(first, a.size()) << what << ": 1 thread and many threads differ first at [" << first << "]: "
                             << a[first] << " vs " << b[first];
}

// Element-wise closeness for GEMM results: a few float ulps of the magnitudes involved (NaN fails).
void expect_close(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(a[i] - b[i]) <= 1e-5f * std::max(1.0f, std::fabs(a[i]))) && reported++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: 1 thread " << a[i] << ", many threads " << b[i];
}

TEST(Parallel, ParallelForCoversTheRangeInDisjointOrderedPieces) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(4);
  std::vector<int> hits(1000, 0);
  std::vector<std::pair<int64_t, int64_t>> ranges(8, {-1, -1});
  cpu::parallel_for(1000, 100, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[i];
    ranges[omp_get_thread_num()] = {b, e};
  });
  omp_set_num_threads(saved);
  for (int h : hits) ASSERT_EQ(h, 1);
  EXPECT_EQ(ranges[0].first, 0);  // four ranges, thread t holding the t-th
  EXPECT_EQ(ranges[3].second, 1000);
  for (int t = 1; t < 4; ++t) EXPECT_EQ(ranges[t].first, ranges[t - 1].second);
}

// With one range's or one chunk's worth of work, body runs once, on the calling thread, for all of it.
template <typename ParallelFor>
void expect_one_call_on_the_caller(ParallelFor&& run) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(4);
  int calls = 0;
  run([&](int64_t b, int64_t e) {
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 150);
    EXPECT_FALSE(omp_in_parallel());
  });
  omp_set_num_threads(saved);
  EXPECT_EQ(calls, 1);
}

TEST(Parallel, ParallelForDoesNotForkForSmallWork) {
  expect_one_call_on_the_caller([](auto&& body) { cpu::parallel_for(150, 100, body); });
}

// Chunks of `grain` from the start (the last one shorter), each run exactly once, in a parallel region.
TEST(Parallel, ParallelForDynamicRunsEachChunkOnce) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(4);
  std::vector<int> hits(1003, 0);
  std::vector<std::pair<int64_t, int64_t>> chunks;
  bool forked = true;
  cpu::parallel_for_dynamic(1003, 100, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[i];
#pragma omp critical
    {
      chunks.emplace_back(b, e);
      forked = forked && omp_in_parallel();
    }
  });
  omp_set_num_threads(saved);
  for (int h : hits) ASSERT_EQ(h, 1);
  std::sort(chunks.begin(), chunks.end());
  ASSERT_EQ(chunks.size(), 11u);
  for (size_t i = 0; i < chunks.size(); ++i) EXPECT_EQ(chunks[i].first, int64_t(i) * 100);
  EXPECT_EQ(chunks.back().second, 1003);
  EXPECT_TRUE(forked);
}

TEST(Parallel, ParallelForDynamicDoesNotForkForOneChunk) {
  expect_one_call_on_the_caller([](auto&& body) { cpu::parallel_for_dynamic(150, 150, body); });
}

// C = op(A) op(B) + 0.5 C for every transpose combination, tall (rows split) and wide (columns split).
TEST(Parallel, SgemmAgreesOnOneAndFourThreadsAndIsCorrect) {
  struct Case {
    int M, N, K;
  };
  for (const Case c : {Case{300, 70, 200}, Case{40, 900, 150}}) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        const auto A = random_vector(size_t(c.M) * c.K, 1), B = random_vector(size_t(c.K) * c.N, 2);
        const auto C0 = random_vector(size_t(c.M) * c.N, 3);
        auto run = [&] {
          std::vector<float> C = C0;
          cpu::sgemm(ta, tb, c.M, c.N, c.K, 1.0f, A.data(), B.data(), 0.5f, C.data());
          return C;
        };
        const auto [one, many] = one_and_many<std::vector<float>>(4, run);
        const std::string what = "sgemm " + std::to_string(c.M) + "x" + std::to_string(c.N) + "x" +
                                 std::to_string(c.K) + (ta ? " A^T" : "") + (tb ? " B^T" : "");
        expect_close(one, many, what);
        std::vector<double> ref(size_t(c.M) * c.N);
        for (int m = 0; m < c.M; ++m)
          for (int n = 0; n < c.N; ++n) {
            double sum = 0.5 * C0[size_t(m) * c.N + n];
            for (int k = 0; k < c.K; ++k)
              sum += double(ta ? A[size_t(k) * c.M + m] : A[size_t(m) * c.K + k]) *
                     double(tb ? B[size_t(n) * c.K + k] : B[size_t(k) * c.N + n]);
            ref[size_t(m) * c.N + n] = sum;
          }
        test::expect_all_near(many, ref, 1e-4, what);
      }
    }
  }
}

// Forward, input gradient and weight gradient of the direct path (unpadded: 3 and 16 channels) and
// of the im2col path (padded), on 1 and 4 threads. The direct kernels and, with enough pixels per
// batch for several weight-gradient groups (8 images of 12x21 outputs: 3 groups), the im2col path
// compute in tiles, images and groups that never depend on the thread count: bit for bit. With few
// pixels (one group) the im2col weight gradient's GEMM is split by sgemm: last bits at most.
TEST(Parallel, Conv2dIsBitIdenticalOnOneAndFourThreads) {
  struct Case {
    int N, H, W, C;
    bool same, bitwise_dw;
  };
  for (const Case c : {Case{8, 23, 21, 3, false, true}, Case{8, 23, 21, 16, false, true},
                       Case{2, 9, 8, 16, false, true}, Case{8, 23, 21, 16, true, true}, Case{2, 9, 8, 16, true, false}}) {
    const Conv2dShape s = make_conv2d_shape(c.N, c.H, c.W, c.C, 16, 5, 5, 2, 1, c.same);
    const auto x = random_vector(size_t(s.N) * s.H * s.W * s.C, 4);
    const auto w = random_vector(size_t(s.K) * s.R * s.S * s.C, 5);
    const auto b = random_vector(size_t(s.K), 6);
    const auto dy = random_vector(size_t(s.N) * s.OH * s.OW * s.K, 7);
    auto run = [&] {
      std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
      cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
      cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
      return std::vector<std::vector<float>>{y, dx, dw, db};
    };
    const auto [one, many] = one_and_many<std::vector<std::vector<float>>>(4, run);
    const char* names[] = {"y", "dx", "dw", "db"};
    for (int i = 0; i < 4; ++i) {
      const std::string what = "conv2d N=" + std::to_string(c.N) + " C=" + std::to_string(c.C) +
                               (c.same ? " same " : " valid ") + names[i];
      if (i == 2 && !c.bitwise_dw) expect_close(one[i], many[i], what);
      else expect_bitwise_equal(one[i], many[i], what);
    }
  }
}

// The direct forward over large weights splits its filters into groups by the thread count (2 a
// thread) and its pixels into ranges of up to ~1,500: bit for bit the same on 1 and 4 threads. 1,682
// pixels (2 ranges) and 1,040 filters (65 panels of 16 with AVX-512: an uneven last group on 4).
TEST(Parallel, LargeWeightsConv2dForwardIsBitIdenticalOnOneAndFourThreads) {
  const Conv2dShape s = make_conv2d_shape(2, 29, 29, 288, 1040, 1, 1, 1, 1, false);  // 1x1, 299,520 weights
  const auto x = random_vector(size_t(s.N) * s.H * s.W * s.C, 8);
  const auto w = random_vector(size_t(s.K) * s.C, 9);
  const auto b = random_vector(size_t(s.K), 10);
  const auto [one, many] = one_and_many<std::vector<float>>(4, [&] {
    std::vector<float> y(size_t(s.N) * s.OH * s.OW * s.K);
    cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    return y;
  });
  expect_bitwise_equal(one, many, "1x1 conv2d, 1,040 filters of 288 channels: y");
}

}  // namespace
}  // namespace cxr::kernels
