// Pillow's convolution resize (src/libImaging/Resample.c) for the BILINEAR and BOX filters, kept
// bit-exact: the same coefficient rounding, 22-bit fixed point, pass order and 8-bit intermediate.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "data/resize.h"

namespace cxr::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

struct Filter {
  double (*weight)(double);
  double support;
};

double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}
double box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

// One axis's taps: for output i, source pixels first[i] .. first[i] + count[i] - 1 with fixed-point
// weights weights[i * ksize + j]. Pillow's precompute_coeffs + normalize_coeffs_8bpc.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

Coefficients precompute(int in_size, int out_size, const Filter& filter) {
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<size_t>(out_size));
  c.count.resize(static_cast<size_t>(out_size));
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(static_cast<size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[static_cast<size_t>(x)] = filter.weight((x + xmin - center + 0.5) * ss);
      ww += k[static_cast<size_t>(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      double w = k[static_cast<size_t>(x)];
      if (ww != 0.0) w /= ww;
      c.weights[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[static_cast<size_t>(xx)] = xmin;
    c.count[static_cast<size_t>(xx)] = xmax;
  }
  return c;
}

uint8_t clip8(int64_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

Image resample(const Image& src, int out_h, int out_w, const Filter& filter) {
  if (out_h <= 0 || out_w <= 0 || src.height <= 0 || src.width <= 0 || src.channels <= 0)
    throw std::invalid_argument("resize: sizes must be positive (source " + std::to_string(src.height) + "x" +
                                std::to_string(src.width) + ", target " + std::to_string(out_h) + "x" +
                                std::to_string(out_w) + ")");
  if (out_h == src.height && out_w == src.width) return src;
  const int ch = src.channels;
  const Coefficients horiz = precompute(src.width, out_w, filter);
  const Coefficients vert = precompute(src.height, out_h, filter);
  // Pillow only runs a pass whose size changes; the horizontal pass covers just the rows the
  // vertical pass will read.
  const bool need_h = out_w != src.width, need_v = out_h != src.height;
  const int row_first = vert.first.front();
  const int row_last = vert.first.back() + vert.count.back();

  Image mid;
  if (need_h) {
    mid = Image{row_last - row_first, out_w, ch, {}};
    mid.pixels.resize(static_cast<size_t>(mid.height) * out_w * ch);
    for (int y = 0; y < mid.height; ++y) {
      const uint8_t* in = src.pixels.data() + static_cast<size_t>(y + row_first) * src.width * ch;
      uint8_t* out = mid.pixels.data() + static_cast<size_t>(y) * out_w * ch;
      for (int x = 0; x < out_w; ++x) {
        const int32_t* k = &horiz.weights[static_cast<size_t>(x) * horiz.ksize];
        const int first = horiz.first[static_cast<size_t>(x)], count = horiz.count[static_cast<size_t>(x)];
        for (int c = 0; c < ch; ++c) {
          int64_t ss = 1 << (kPrecisionBits - 1);
          for (int j = 0; j < count; ++j) ss += int64_t{in[static_cast<size_t>(first + j) * ch + c]} * k[j];
          out[static_cast<size_t>(x) * ch + c] = clip8(ss);
        }
      }
    }
  } else {
    mid = src;
  }
  if (!need_v) return mid;
  // Without a horizontal pass the source rows are used directly, so no row shift applies.
  const int shift = need_h ? row_first : 0;
  Image out{out_h, out_w, ch, std::vector<uint8_t>(static_cast<size_t>(out_h) * out_w * ch)};
  const size_t stride = static_cast<size_t>(out_w) * ch;
  for (int y = 0; y < out_h; ++y) {
    const int32_t* k = &vert.weights[static_cast<size_t>(y) * vert.ksize];
    const int first = vert.first[static_cast<size_t>(y)] - shift, count = vert.count[static_cast<size_t>(y)];
    uint8_t* dst = out.pixels.data() + static_cast<size_t>(y) * stride;
    for (size_t i = 0; i < stride; ++i) {
      int64_t ss = 1 << (kPrecisionBits - 1);
      for (int j = 0; j < count; ++j) ss += int64_t{mid.pixels[static_cast<size_t>(first + j) * stride + i]} * k[j];
      dst[i] = clip8(ss);
    }
  }
  return out;
}

}  // namespace

Image resize_bilinear(const Image& src, int out_h, int out_w) { return resample(src, out_h, out_w, {triangle, 1.0}); }
Image resize_area(const Image& src, int out_h, int out_w) { return resample(src, out_h, out_w, {box, 0.5}); }

Interpolation parse_interpolation(const std::string& name) {
  if (name == "nearest") return Interpolation::nearest;
  if (name == "bilinear") return Interpolation::bilinear;
  if (name == "area") return Interpolation::area;
  throw std::invalid_argument("interpolation must be nearest, bilinear or area, got '" + name + "'");
}

Image resize(const Image& src, int out_h, int out_w, Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::bilinear: return resize_bilinear(src, out_h, out_w);
    case Interpolation::area: return resize_area(src, out_h, out_w);
    case Interpolation::nearest: break;
  }
  return resize_nearest(src, out_h, out_w);
}

}  // namespace cxr::data
