// The engine accepts a batch of no rows (dense and batch_norm do); its parameter gradients are 0.
#include "tests/engine/empty_batch.h"

namespace cxr {
namespace {

TEST(EmptyBatch, ParameterGradientsAreZeroOnTheCpu) {
  testing::expect_zero_parameter_gradients_of_an_empty_batch(Device::cpu(), "cpu");
}

}  // namespace
}  // namespace cxr
