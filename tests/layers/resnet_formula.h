// The closed-form weights of tools/fixtures/make_resnet_fixture.py, bit for bit: the golden test
// sets every ResNet50V2 parameter from its name, as the script did in Keras, instead of shipping
// 94 MB of weights. Each value is one float64 rounding, then one to float32, on both sides.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace cxr::testing {

inline uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char byte : text) h = (h ^ byte) * 0x100000001B3ull;
  return h;
}

inline uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// `name` is the tensor's name without the model prefix ("conv1_conv/kernel"); `shape` is cxrnet's
// (conv kernels OHWI, so fan_in = product of all but the first dimension).
inline std::vector<float> formula_values(const std::string& name, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const std::string kind = name.substr(name.rfind('/') + 1);
  const uint64_t key = fnv1a64(name);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(splitmix64(key ^ static_cast<uint64_t>(i)) >> 40) / double(1 << 24);
    const double centred = 2.0 * u - 1.0;  // exact
    double x;
    if (kind == "kernel") {
      const double fan_in = static_cast<double>(n / shape[0]);
      x = centred * std::sqrt(3.0 / fan_in);
    } else if (kind == "bias" || kind == "beta" || kind == "moving_mean") {
      x = centred * 0.1;
    } else if (kind == "gamma") {
      x = 1.0 + centred * 0.25;  // both steps exact
    } else if (kind == "moving_variance") {
      x = 0.5 + u;
    } else {  // "input"
      x = centred * 2.0;
    }
    v[static_cast<size_t>(i)] = static_cast<float>(x);
  }
  return v;
}

}  // namespace cxr::testing
