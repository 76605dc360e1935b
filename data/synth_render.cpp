// Drawing one synthetic radiograph. Coordinates: u across (−0.5..0.5 of the width), v down (0..1 of
// the height), so the anatomy stretches with the image's aspect as a resized X-ray would.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "data/synth.h"

namespace cxr::data {
namespace {

// SplitMix64: tiny, portable and fully specified, so an image depends only on (seed, id) and not on
// the standard library (whose distributions differ between implementations).
class SynthRandom {
 public:
  SynthRandom(uint64_t seed, uint64_t id) : state_(seed * 0x9E3779B97F4A7C15ull ^ (id + 0x632BE59BD9B4E019ull)) {
    next();
  }
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int integer(int lo, int hi_inclusive) { return lo + static_cast<int>(uniform() * (hi_inclusive - lo + 1)); }
  // Near-Gaussian with unit variance: the sum of four 16-bit uniforms (Irwin–Hall), cheap per pixel.
  double noise() {
    const uint64_t w = next();
    double s = 0;
    for (int k = 0; k < 4; ++k) s += static_cast<double>((w >> (16 * k)) & 0xFFFF) / 65536.0;
    return (s - 2.0) * 1.7320508075688772;  // sqrt(3): variance 4/12 -> 1
  }

 private:
  uint64_t state_;
};

double smoothstep01(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3.0 - 2.0 * x);
}

// Adds amp·exp(−d²/2σ²) to `field` around (row0, col0), σ in pixels, only within 3σ.
void add_blob(std::vector<float>& field, int H, int W, double row0, double col0, double sigma, double amp) {
  const int reach = static_cast<int>(std::ceil(3 * sigma));
  const int r_lo = std::max(0, static_cast<int>(row0) - reach), r_hi = std::min(H - 1, static_cast<int>(row0) + reach);
  const int c_lo = std::max(0, static_cast<int>(col0) - reach), c_hi = std::min(W - 1, static_cast<int>(col0) + reach);
  const double inv = 1.0 / (2 * sigma * sigma);
  for (int r = r_lo; r <= r_hi; ++r)
    for (int c = c_lo; c <= c_hi; ++c) {
      const double dr = r - row0, dc = c - col0;
      field[static_cast<size_t>(r) * W + c] += static_cast<float>(amp * std::exp(-(dr * dr + dc * dc) * inv));
    }
}

}  // namespace

Image render_synthetic_xray(bool pneumonia, int H, int W, uint64_t seed, uint64_t image_id) {
  SynthRandom rng(seed, image_id);
  // Anatomy and exposure, drawn the same way for both classes.
  const double background = rng.uniform(5, 30), body_level = rng.uniform(150, 190);
  const double body_half = rng.uniform(0.36, 0.45), shoulder_v = rng.uniform(0.10, 0.18);
  const double lung_dx = rng.uniform(0.14, 0.19), lung_cy = rng.uniform(0.42, 0.50);
  const double lung_rx = rng.uniform(0.10, 0.135), lung_ry = rng.uniform(0.22, 0.30);
  const double lung_depth = rng.uniform(70, 100);
  const double rib_amp = rng.uniform(10, 20), rib_freq = rng.uniform(7, 10), rib_bend = rng.uniform(2, 5);
  const double heart_level = rng.uniform(15, 30), heart_u = rng.uniform(0.03, 0.06), heart_r = rng.uniform(0.12, 0.16);
  const double clavicle_v = rng.uniform(0.14, 0.2), clavicle_slope = rng.uniform(0.1, 0.3);
  const double noise_sigma = rng.uniform(3, 7), target_mean = rng.uniform(90, 130);

  const size_t n = static_cast<size_t>(H) * W;
  std::vector<float> value(n), lung(n), opacity(n, 0.0f);
  for (int r = 0; r < H; ++r) {
    const double v = (r + 0.5) / H;
    // Narrow neck above the shoulders, full chest below.
    const double half = body_half * (v < shoulder_v ? 0.45 + 0.55 * smoothstep01((v - 0.02) / shoulder_v) : 1.0);
    for (int c = 0; c < W; ++c) {
      const double u = (c + 0.5) / W - 0.5;
      const double body = smoothstep01((half - std::abs(u)) / 0.03);
      double lungs = 0;
      for (double side : {-1.0, 1.0}) {
        const double du = (u - side * lung_dx) / lung_rx, dv = (v - lung_cy) / lung_ry;
        lungs = std::max(lungs, smoothstep01((1.0 - (du * du + dv * dv)) / 0.35));
      }
      const double hu = (u - heart_u) / heart_r, hv = (v - 0.64) / (heart_r * 1.1);
      const double heart = smoothstep01(1.0 - (hu * hu + hv * hv));
      const double clavicle_gap = (v - clavicle_v - clavicle_slope * std::abs(u)) / 0.012;
      const double clavicle = std::abs(u) > 0.04 && std::abs(u) < 0.33 ? std::max(0.0, 1.0 - clavicle_gap * clavicle_gap) : 0.0;
      const double spine = std::max(0.0, 1.0 - (u / 0.035) * (u / 0.035));
      const double ribs = rib_amp * (0.5 + 0.5 * std::sin(2 * std::numbers::pi * (v * rib_freq + rib_bend * u * u)));
      double x = background + (body_level - background) * body;
      x += body * (ribs * (0.3 + 0.7 * lungs) + 20 * spine + 25 * clavicle - lung_depth * lungs * (1.0 - 0.6 * heart) +
                   heart_level * heart);
      value[static_cast<size_t>(r) * W + c] = static_cast<float>(x);
      lung[static_cast<size_t>(r) * W + c] = static_cast<float>(lungs);
    }
  }

  // Hilar vessels, in both classes: small faint blobs at the inner edge of each lung.
  for (int k = rng.integer(2, 4); k > 0; --k) {
    const double side = rng.uniform() < 0.5 ? -1.0 : 1.0;
    const double u = side * (lung_dx - lung_rx * rng.uniform(0.4, 0.8)), v = lung_cy + lung_ry * rng.uniform(-0.3, 0.3);
    add_blob(opacity, H, W, v * H, (u + 0.5) * W, rng.uniform(0.01, 0.02) * W, rng.uniform(8, 18));
  }
  // Pneumonia: a few patches, each a cluster of overlapping soft blobs, somewhere in a lung field.
  if (pneumonia) {
    for (int p = rng.integer(2, 4); p > 0; --p) {
      const double side = rng.uniform() < 0.5 ? -1.0 : 1.0, angle = rng.uniform(0, 2 * std::numbers::pi);
      const double radius = 0.65 * std::sqrt(rng.uniform()), patch = rng.uniform(0.045, 0.08);
      const double u = side * lung_dx + radius * std::cos(angle) * lung_rx, v = lung_cy + radius * std::sin(angle) * lung_ry;
      for (int b = rng.integer(3, 5); b > 0; --b) {
        const double bu = u + patch * rng.uniform(-1.2, 1.2), bv = v + patch * rng.uniform(-1.2, 1.2) * W / H;
        add_blob(opacity, H, W, bv * H, (bu + 0.5) * W, patch * rng.uniform(0.5, 1.0) * W, rng.uniform(22, 42));
      }
    }
  }

  // Opacities only show inside the lung fields. Whatever brightness they add is taken back evenly
  // over the lung fields, so the image mean (and everything outside the lungs, such as the dark
  // background) is the same as without them: the class cannot be read off a global statistic.
  double added = 0, lung_area = 0;
  for (size_t i = 0; i < n; ++i) {
    added += double{opacity[i]} * lung[i];
    lung_area += lung[i];
  }
  const double payback = lung_area > 0 ? added / lung_area : 0.0;
  // Then noise, and a shift to a target mean drawn alike for both classes.
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    value[i] += static_cast<float>((opacity[i] - payback) * lung[i] + noise_sigma * rng.noise());
    sum += value[i];
  }
  const double shift = target_mean - sum / static_cast<double>(n);
  Image img{H, W, 1, std::vector<uint8_t>(n)};
  for (size_t i = 0; i < n; ++i) img.pixels[i] = static_cast<uint8_t>(std::clamp(std::lround(value[i] + shift), 0L, 255L));
  return img;
}

}  // namespace cxr::data
