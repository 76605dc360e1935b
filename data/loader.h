// Decoding and resizing a whole data set into one uint8 buffer, in parallel.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/directory.h"
#include "data/resize.h"

namespace cxr::data {

struct LoadedImages {
  int height = 0, width = 0, channels = 3;  // 3: RGB; 1: grey (Keras's color_mode 'grayscale')
  std::vector<uint8_t> pixels;  // N·H·W·C, image i at pixels[i·H·W·C], HWC
  std::vector<int> labels;      // N
  std::vector<std::string> files;
  std::vector<std::pair<std::string, std::string>> skipped;  // (path, reason) of files left out
  size_t decoded = 0, from_cache = 0;  // how many files were decoded now, and how many came from the cache
  std::string cache_problem;           // non-empty when a damaged cache file was ignored and rebuilt

  size_t size() const { return labels.size(); }
  size_t image_bytes() const { return static_cast<size_t>(height) * static_cast<size_t>(width) * channels; }
  const uint8_t* image(size_t i) const { return pixels.data() + i * image_bytes(); }
};

struct LoadOptions {
  int threads = 0;  // 0 = all cores
  Interpolation interpolation = Interpolation::nearest;
  // decode: fast. JPEGs use TurboJPEG's DCT-domain scaling down to the smallest size still at
  // least the target, then the exact resize; pixels then differ from Keras's (decode: exact).
  bool fast_decode = false;
  std::string cache_dir;  // non-empty: read and update an ImageCache there
  // 3: RGB, as load_img's convert('RGB'). 1: grey, as load_img(color_mode='grayscale'): the decoded
  // RGB converted with PIL's convert('L') (to_grey) before the resize, in Keras's order.
  int channels = 3;
};

// The cache variant name of these options, e.g. "exact-nearest" (RGB) or "exact-nearest-grey".
std::string cache_variant(const LoadOptions& options);

// As below, with the interpolation, decode mode and cache of `options`. Unreadable files are
// cached too (with their reason), so a second run reports them without decoding them again.
LoadedImages load_resized(const DatasetIndex& index, int height, int width, const LoadOptions& options);

// Decodes every file of the index to RGB and resizes it to height x width with resize_nearest (as
// Keras's load_img). Runs on `threads` std::threads (0 = all cores). A file that cannot be read is
// left out and listed in `skipped` with the reason; it never stops the load. Kept images are in
// index order.
LoadedImages load_resized(const DatasetIndex& index, int height, int width, int threads = 0);

}  // namespace cxr::data
