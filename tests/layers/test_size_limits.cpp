// Absurd sizes in a config are refused before they are allocated, naming the layer and the size.
#include <gtest/gtest.h>

#include "config_error.h"
#include "engine/error.h"
#include "layers/model.h"
#include "layers/size_limits.h"

namespace cxr {
namespace {

Model build(const std::string& layers, const std::string& input = "[16, 16, 3]") {
  return build_model(SpecNode::load_string("input: " + input + "\nlayers:\n" + layers, "m.yaml"), 1);
}

TEST(SizeLimits, AHugeParameterIsRefusedAtItsLayerBeforeItIsAllocated) {
  EXPECT_EQ(testing::config_error_of([] { build("  - {type: Conv2D, filters: 2000000000, kernel: 3}\n"); }),
            "m.yaml:3:5: layers[0]: layer 'conv2d' (Conv2D): its kernel [2000000000, 3, 3, 3] would hold "
            "54000000000 elements, over the limit of 2147483647 (2^31 - 1) per tensor");
  EXPECT_EQ(testing::config_error_of([] { build("  - {type: Flatten}\n  - {type: Dense, units: 20000000}\n"); }),
            "m.yaml:4:5: layers[1]: layer 'dense' (Dense): its kernel [768, 20000000] would hold "
            "15360000000 elements, over the limit of 2147483647 (2^31 - 1) per tensor");
}

// The parameters' float32 values and gradients must fit in memory, checked before each is allocated:
// two Dense layers of 46,000 units once allocated and initialised 17 GB before any check.
TEST(SizeLimits, ParametersPastTheMemoryAreRefusedBeforeTheyAreAllocated) {
  const auto spec = SpecNode::load_string("input: [32, 32, 3]\nlayers:\n  - {type: Flatten}\n"
                                          "  - {type: Dense, units: 40}\n  - {type: Dense, units: 3}\n",
                                          "m.yaml");
  EXPECT_EQ(build_model(spec, 1, "sequential", 1 << 20).total_parameter_count(), 3072 * 40 + 40 + 40 * 3 + 3);
  EXPECT_EQ(testing::config_error_of([&] { build_model(spec, 1, "sequential", 900000); }),
            "m.yaml:4:5: layers[1]: layer 'dense' (Dense): its kernel [3072, 40] would take the model past 112500 "
            "parameters, the most whose float32 values and gradients fit in the 0.000838 GiB of memory here");
}

TEST(SizeLimits, ActivationsOfOneImageAndOfABatchAreChecked) {
  // One image too large is refused by build_model itself, at the input.
  const auto wide = [] { build("  - {type: MaxPooling2D, pool_size: 2}\n", "[5000000, 5000000, 3]"); };
  EXPECT_EQ(testing::config_error_of(wide),
            "m.yaml:1:8: input: one image's [5000000, 5000000, 3] would hold 75000000000000 elements, over "
            "the limit of 2147483647 (2^31 - 1) per tensor");
  const Model small = build("  - {type: Conv2D, filters: 16, kernel: 3, padding: same}\n");
  EXPECT_EQ(testing::input_error_of([&] { check_model_size(small, 1000000000, uint64_t{1} << 40); }),
            "model.input: data.batch_size 1000000000 times one image's [16, 16, 3] would hold 768000000000 "
            "elements, over the limit of 2147483647 (2^31 - 1) per tensor");
  // Within the input's limit, over the first layer's output's: the message names that layer.
  EXPECT_EQ(testing::input_error_of([&] { check_model_size(small, 1000000, uint64_t{1} << 40); }),
            "model.layers[0] (Conv2D 'conv2d') output: data.batch_size 1000000 times one image's [16, 16, 16] "
            "would hold 4096000000 elements, over the limit of 2147483647 (2^31 - 1) per tensor");
}

// The limit is the last count an int holds: 2^31 elements overflowed the kernels' int pixel counts.
TEST(SizeLimits, TwoToThe31ElementsIsOneTooMany) {
  check_tensor_size({2147483647}, "a tensor");
  EXPECT_EQ(testing::input_error_of([] { check_tensor_size({32768, 65536}, "a tensor"); }),
            "a tensor [32768, 65536] would hold 2147483648 elements, over the limit of 2147483647 (2^31 - 1) per "
            "tensor");
}

TEST(SizeLimits, ParametersAndABatchMustFitInMemory) {
  const Model small = build("  - {type: Conv2D, filters: 16, kernel: 3, padding: same}\n");
  check_model_size(small, 32, uint64_t{1} << 30);  // 448 parameters and 32 x 4864 activations: 0.6 MB
  // 4 bytes x (2 x 448 + 32 x (768 + 4096)) = 626,176 bytes.
  EXPECT_EQ(testing::input_error_of([&] { check_model_size(small, 32, 600000); }),
            "model 'sequential' with data.batch_size 32 needs at least 0.000583 GiB (448 parameters and their "
            "gradients, and one batch's activations), more than the 0.000559 GiB of memory here: lower "
            "data.batch_size, image_size or the layer sizes");
  // On a GPU the limit is its own memory, which the error names.
  const std::string gpu = testing::input_error_of([&] { check_model_size(small, 32, 600000, "memory of GPU cuda:0"); });
  EXPECT_NE(gpu.find("more than the 0.000559 GiB of memory of GPU cuda:0: lower"), std::string::npos) << gpu;
}

}  // namespace
}  // namespace cxr
