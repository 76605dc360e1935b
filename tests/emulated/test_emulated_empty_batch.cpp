// A batch of no rows (which the engine's dense and batch_norm ops accept): the CUDA kernels, run on
// the CPU emulator, write what the CPU ones do: zero gradients for the parameters, sums of nothing.
// Found by review: column_sums divided by a zero rows-per-chunk (SIGFPE), and batch norm's backward
// returned before writing dgamma and dbeta, leaving whatever the allocator's block held.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/dense.h"

namespace cxr::kernels {
namespace {

// Both start at 7, a value no kernel writes here: an output left unwritten shows.
void expect_same(const std::vector<float>& cpu, const std::vector<float>& emulated, const std::string& what) {
  ASSERT_EQ(cpu.size(), emulated.size()) << what;
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_EQ(cpu[i], 0.0f) << what << " element " << i << " on the CPU";
    EXPECT_EQ(emulated[i], cpu[i]) << what << " element " << i;
  }
}

TEST(EmulatedEmptyBatch, DenseBackwardWritesZeroWeightAndBiasGradients) {
  const int in = 5, out = 3;
  const std::vector<float> w(in * out, 1.0f);
  std::vector<float> dw(in * out, 7.0f), db(out, 7.0f), emulated_dw(in * out, 7.0f), emulated_db(out, 7.0f);
  cpu::dense_backward(0, in, out, nullptr, w.data(), nullptr, nullptr, dw.data(), db.data());
  cuda::dense_backward(0, in, out, nullptr, w.data(), nullptr, nullptr, emulated_dw.data(), emulated_db.data());
  expect_same(dw, emulated_dw, "dw");
  expect_same(db, emulated_db, "dbias");
}

TEST(EmulatedEmptyBatch, BatchNormBackwardWritesZeroGammaAndBetaGradients) {
  const int C = 8;
  const std::vector<float> gamma(C, 1.0f), mean(C, 0.0f), inv(C, 1.0f), var(C, 1.0f);
  const auto fresh = [&] { return std::vector<float>(C, 7.0f); };
  std::vector<float> dg = fresh(), db = fresh(), emulated_dg = fresh(), emulated_db = fresh();
  cpu::batchnorm_backward_train(0, C, nullptr, gamma.data(), mean.data(), inv.data(), nullptr, nullptr, dg.data(),
                                db.data());
  cuda::batchnorm_backward_train(0, C, nullptr, gamma.data(), mean.data(), inv.data(), nullptr, nullptr,
                                 emulated_dg.data(), emulated_db.data());
  expect_same(dg, emulated_dg, "training dgamma");
  expect_same(db, emulated_db, "training dbeta");

  dg = fresh(), db = fresh(), emulated_dg = fresh(), emulated_db = fresh();
  cpu::batchnorm_backward_inference(0, C, nullptr, gamma.data(), mean.data(), var.data(), 1e-3f, nullptr, nullptr,
                                    dg.data(), db.data());
  cuda::batchnorm_backward_inference(0, C, nullptr, gamma.data(), mean.data(), var.data(), 1e-3f, nullptr, nullptr,
                                     emulated_dg.data(), emulated_db.data());
  expect_same(dg, emulated_dg, "inference dgamma");
  expect_same(db, emulated_db, "inference dbeta");

  dg = fresh(), db = fresh(), emulated_dg = fresh(), emulated_db = fresh();
  cpu::batchnorm_dropout_relu_backward_train(0, C, nullptr, gamma.data(), mean.data(), inv.data(), 0.5f, nullptr,
                                             nullptr, nullptr, dg.data(), db.data());
  cuda::batchnorm_dropout_relu_backward_train(0, C, nullptr, gamma.data(), mean.data(), inv.data(), 0.5f, nullptr,
                                              nullptr, nullptr, emulated_dg.data(), emulated_db.data());
  expect_same(dg, emulated_dg, "batch norm-dropout-relu dgamma");
  expect_same(db, emulated_db, "batch norm-dropout-relu dbeta");
}

}  // namespace
}  // namespace cxr::kernels
