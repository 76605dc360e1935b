// Resizing 8-bit HWC images.
#pragma once
#include <string>
#include <vector>

#include "data/image.h"

namespace cxr::data {

// Nearest-neighbour resize exactly as PIL's Image.resize(NEAREST), Keras's load_img default.
// Output column x reads source column floor((x + 0.5)·s), s = src/dst in double, except that the
// position is accumulated as Pillow's ImagingScaleAffine does it (start at 0.5·s, add s per column),
// whose rounding decides the cases where (x + 0.5)·s is an exact integer (e.g. 224 -> 50, x = 12).
// Same for rows. Returns a copy when the size is unchanged, as PIL does.
Image resize_nearest(const Image& src, int out_h, int out_w);

// Source index of each output position along one axis (exposed for tests and for callers that
// resize many images of the same size).
std::vector<int> nearest_source_indices(int src_size, int dst_size);

// Pillow's BILINEAR resize (Image.resize(size, BILINEAR), Keras's interpolation='bilinear'): a
// triangle filter whose support widens with the reduction factor (so shrinking averages, like an
// antialiased resize), horizontal pass first with an 8-bit intermediate, then vertical, in
// Pillow's 22-bit fixed point. Bit-exact with Pillow (tests/data/fixtures/resize_filters_pillow.txt).
Image resize_bilinear(const Image& src, int out_h, int out_w);

// "area": Pillow's BOX resize (Keras's interpolation='box'): every source pixel whose centre falls
// inside the output pixel's footprint weighs the same. For integer reduction factors this is exact
// area averaging; for others it differs from OpenCV's INTER_AREA, which weighs partial pixels by
// their covered fraction. Bit-exact with Pillow.
Image resize_area(const Image& src, int out_h, int out_w);

enum class Interpolation { nearest, bilinear, area };

// "nearest" | "bilinear" | "area"; throws std::invalid_argument for anything else.
Interpolation parse_interpolation(const std::string& name);

Image resize(const Image& src, int out_h, int out_w, Interpolation interpolation);

}  // namespace cxr::data
