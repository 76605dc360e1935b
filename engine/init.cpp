#include "engine/init.h"

#include <cmath>
#include <vector>

#include "kernels/philox.h"

namespace cxr {

namespace {
constexpr uint64_t kInitKey = 0x1A17'0000'C0FF'EE00ull;
}  // namespace

void glorot_uniform_(Tensor& t, int64_t fan_in, int64_t fan_out, uint64_t seed, uint64_t stream) {
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  std::vector<float> values(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < values.size(); ++i) {
    // The key is the seed with a constant mixed in, so initial weights never share random numbers
    // with dropout masks (keyed by the seed itself).
    const double u = kernels::philox_uniform(seed ^ kInitKey, stream, i);  // [0, 1)
    values[i] = static_cast<float>((2.0 * u - 1.0) * limit);
  }
  t.copy_from(Tensor::from_vector(t.shape(), values));
}

}  // namespace cxr
