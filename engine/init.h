// Weight initialisers, as Keras defines them (facts §3), drawn from the counter-based RNG so a
// seed gives the same weights on every machine.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace cxr {

// U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)). `stream` separates parameters.
void glorot_uniform_(Tensor& t, int64_t fan_in, int64_t fan_out, uint64_t seed, uint64_t stream);

}  // namespace cxr
