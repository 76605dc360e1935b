#include "data/photometric.h"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace cxr::data {

void flip_horizontal(float* img, int H, int W, int C) {
  for (int r = 0; r < H; ++r) {
    float* row = img + static_cast<size_t>(r) * W * C;
    for (int a = 0, b = W - 1; a < b; ++a, --b)
      for (int k = 0; k < C; ++k) std::swap(row[static_cast<size_t>(a) * C + k], row[static_cast<size_t>(b) * C + k]);
  }
}

void keras_brightness(float* img, int H, int W, int C, double brightness) {
  const size_t n = static_cast<size_t>(H) * W * C;
  if (n == 0) return;
  // array_to_img(scale=True) in float32: x - min, then /= max (when max != 0), then *= 255.
  const float lo = *std::min_element(img, img + n);
  float hi = 0;
  for (size_t i = 0; i < n; ++i) hi = std::max(hi, img[i] - lo);
  for (size_t i = 0; i < n; ++i) {
    float v = img[i] - lo;
    if (hi != 0) v /= hi;
    v *= 255.0f;
    const int u8 = static_cast<int>(v);  // astype('uint8') truncates
    // PIL's ImagingBlend(black, img, alpha): in range [0, 1] a plain truncation, otherwise through
    // a float clipped to 0..255. Both are trunc(alpha · v) clipped.
    const float blended = static_cast<float>(brightness) * static_cast<float>(u8);  // C: int + float·int
    img[i] = blended <= 0 ? 0.0f : blended >= 255 ? 255.0f : static_cast<float>(static_cast<int>(blended));
  }
}

void adjust_contrast(float* img, int H, int W, int C, double factor) {
  const size_t pixels = static_cast<size_t>(H) * W;
  for (int k = 0; k < C; ++k) {
    double sum = 0;
    for (size_t p = 0; p < pixels; ++p) sum += img[p * C + k];
    const double mean = pixels ? sum / static_cast<double>(pixels) : 0.0;
    for (size_t p = 0; p < pixels; ++p) {
      const double v = (img[p * C + k] - mean) * factor + mean;
      img[p * C + k] = static_cast<float>(std::clamp(v, 0.0, 255.0));
    }
  }
}

}  // namespace cxr::data
