#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace cxr::data {
namespace {

void check_sizes(const Image& src, int out_h, int out_w) {
  if (out_h <= 0 || out_w <= 0 || src.height <= 0 || src.width <= 0 || src.channels <= 0)
    throw std::invalid_argument("resize: sizes must be positive (source " + std::to_string(src.height) + "x" +
                                std::to_string(src.width) + ", target " + std::to_string(out_h) + "x" +
                                std::to_string(out_w) + ")");
}

}  // namespace

std::vector<int> nearest_source_indices(int src_size, int dst_size) {
  // Pillow: scale a = src/dst, position xo = a·0.5, then xo += a per output pixel, index = (int)xo.
  // The repeated addition (not (x + 0.5)·a) is kept on purpose: it is what decides the index when
  // the exact position is an integer, and we must pick the same pixel as PIL.
  const double scale = static_cast<double>(src_size) / dst_size;
  std::vector<int> index(static_cast<size_t>(dst_size));
  double pos = scale * 0.5;
  for (int x = 0; x < dst_size; ++x) {
    index[static_cast<size_t>(x)] = std::min(static_cast<int>(pos), src_size - 1);
    pos += scale;
  }
  return index;
}

Image resize_nearest(const Image& src, int out_h, int out_w) {
  check_sizes(src, out_h, out_w);
  if (out_h == src.height && out_w == src.width) return src;
  const std::vector<int> rows = nearest_source_indices(src.height, out_h);
  const std::vector<int> cols = nearest_source_indices(src.width, out_w);
  const size_t ch = static_cast<size_t>(src.channels);
  Image out{out_h, out_w, src.channels, std::vector<uint8_t>(static_cast<size_t>(out_h) * out_w * ch)};
  uint8_t* dst = out.pixels.data();
  for (int r = 0; r < out_h; ++r) {
    const uint8_t* src_row = src.pixels.data() + static_cast<size_t>(rows[static_cast<size_t>(r)]) * src.width * ch;
    for (int c = 0; c < out_w; ++c, dst += ch) std::copy_n(src_row + cols[static_cast<size_t>(c)] * ch, ch, dst);
  }
  return out;
}

Image resize_bilinear(const Image& src, int out_h, int out_w) {
  check_sizes(src, out_h, out_w);
  if (out_h == src.height && out_w == src.width) return src;
  const int ch = src.channels;
  Image out{out_h, out_w, ch, std::vector<uint8_t>(static_cast<size_t>(out_h) * out_w * ch)};
  const double sy = static_cast<double>(src.height) / out_h, sx = static_cast<double>(src.width) / out_w;
  auto at = [&](int r, int c, int k) { return src.pixels[(static_cast<size_t>(r) * src.width + c) * ch + k]; };
  for (int r = 0; r < out_h; ++r) {
    const double y = std::clamp((r + 0.5) * sy - 0.5, 0.0, src.height - 1.0);
    const int y0 = static_cast<int>(y), y1 = std::min(y0 + 1, src.height - 1);
    const double fy = y - y0;
    for (int c = 0; c < out_w; ++c) {
      const double x = std::clamp((c + 0.5) * sx - 0.5, 0.0, src.width - 1.0);
      const int x0 = static_cast<int>(x), x1 = std::min(x0 + 1, src.width - 1);
      const double fx = x - x0;
      for (int k = 0; k < ch; ++k) {
        const double top = at(y0, x0, k) + fx * (at(y0, x1, k) - at(y0, x0, k));
        const double bottom = at(y1, x0, k) + fx * (at(y1, x1, k) - at(y1, x0, k));
        out.pixels[(static_cast<size_t>(r) * out_w + c) * ch + k] = static_cast<uint8_t>(std::lround(top + fy * (bottom - top)));
      }
    }
  }
  return out;
}

}  // namespace cxr::data
