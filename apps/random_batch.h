// A batch of random training data at an experiment's input size, what bench_e2e and `cxrnet profile`
// time steps on: a step's work depends on the shapes, not on the values.
#pragma once
#include <cstdint>

#include "apps/experiment_config.h"
#include "engine/tensor.h"

namespace cxr {

struct RandomBatch {
  Tensor images, labels;
};

// `batch` images of `input_shape` (without the batch axis), pixels uniform over the config's range
// (0..255 times its rescale), and labels 0, 1, 0, 1, ... ([batch, 1]). The same values every call.
RandomBatch random_batch(const ExperimentConfig& config, const Shape& input_shape, int64_t batch, Device device);

}  // namespace cxr
