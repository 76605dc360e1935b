// The arithmetic of one training step: the floating-point operations of a model's convolutions and
// matrix products (Layer::products()), where nearly all of a step's arithmetic is, per row of
// `cxrnet profile` and in all. What turns a step's time into GFLOP/s, to hold against the machine's
// arithmetic ceiling (bench_e2e, benchmarks/report.py).
//
// Forward: a multiply and an add per multiply-add, per sample. Backward: as many again for the weight
// gradient where the weights train, and again for the input gradient where anything before them
// trains (the images need none). Left out: biases, batch norm, pooling, activations, the loss and the
// optimizer, a few operations per value they read or write: bound by memory, not arithmetic.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "layers/model.h"

namespace cxr {

struct StepFlops {
  double forward = 0, backward = 0;
};

struct StepArithmetic {
  // By the label of the profile's row: the layer's name ("conv2d"), or "layer/part" for a part of a
  // nested model ("resnet50v2/conv4_block6").
  std::map<std::string, StepFlops> rows;
  StepFlops total;
};

StepArithmetic step_arithmetic(const Model& model, int64_t batch);

}  // namespace cxr
