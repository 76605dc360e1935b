#include "data/permutation.h"

#include <cstddef>
#include <numeric>
#include <utility>

#include "kernels/philox.h"

namespace cxr::data {

uint32_t philox_word(uint64_t key, uint64_t stream, uint64_t i) {
  const kernels::Philox4x32 counter{{static_cast<uint32_t>(i >> 2), static_cast<uint32_t>(i >> 34),
                                     static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}};
  const kernels::Philox4x32 r =
      kernels::philox4x32_10(counter, static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32));
  return r.v[i & 3];
}

std::vector<int> seeded_permutation(int n, uint64_t key, uint64_t stream) {
  std::vector<int> order(static_cast<size_t>(n < 0 ? 0 : n));
  std::iota(order.begin(), order.end(), 0);
  uint64_t draw = 0;
  for (int i = n - 1; i > 0; --i) {
    // j uniform in [0, i] by multiply-shift; its bias (at most n / 2^32) is far below anything a
    // shuffle of a data set could show.
    const auto j = static_cast<int>((uint64_t{philox_word(key, stream, draw++)} * static_cast<uint64_t>(i + 1)) >> 32);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace cxr::data
