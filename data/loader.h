// Decoding and resizing a whole data set into one uint8 buffer, in parallel.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/directory.h"

namespace cxr::data {

struct LoadedImages {
  int height = 0, width = 0;
  std::vector<uint8_t> pixels;  // N·H·W·3, image i at pixels[i·H·W·3], HWC
  std::vector<int> labels;      // N
  std::vector<std::string> files;
  std::vector<std::pair<std::string, std::string>> skipped;  // (path, reason) of files left out

  size_t size() const { return labels.size(); }
  const uint8_t* image(size_t i) const { return pixels.data() + i * static_cast<size_t>(height) * width * 3; }
};

// Decodes every file of the index to RGB and resizes it to height x width with resize_nearest (as
// Keras's load_img). Runs on `threads` std::threads (0 = all cores). A file that cannot be read is
// left out and listed in `skipped` with the reason; it never stops the load. Kept images are in
// index order.
LoadedImages load_resized(const DatasetIndex& index, int height, int width, int threads = 0);

}  // namespace cxr::data
