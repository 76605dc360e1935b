// Resizing 8-bit HWC images.
#pragma once
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

// Bilinear resize with pixel centres aligned (align_corners = false), edge pixels clamped.
// Not bit-compatible with PIL's BILINEAR (which widens its filter when shrinking).
Image resize_bilinear(const Image& src, int out_h, int out_w);

}  // namespace cxr::data
