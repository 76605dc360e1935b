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

}  // namespace cxr::data
