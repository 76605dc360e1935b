#include "data/loader.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>

#include "data/decode.h"
#include "data/resize.h"

namespace cxr::data {

LoadedImages load_resized(const DatasetIndex& index, int height, int width, int threads) {
  if (height <= 0 || width <= 0) throw std::invalid_argument("load_resized: the target size must be positive");
  if (index.files.size() != index.labels.size()) throw std::invalid_argument("load_resized: files and labels differ in length");
  const size_t n = index.files.size();
  const size_t image_bytes = static_cast<size_t>(height) * width * 3;

  // Every file gets its slot in a full-size buffer, so workers never contend; failures are
  // squeezed out afterwards, which keeps the survivors in index order.
  std::vector<uint8_t> all(n * image_bytes);
  std::vector<std::string> failure(n);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      try {
        const Image img = resize_nearest(decode_image_file(index.files[i]), height, width);
        std::memcpy(all.data() + i * image_bytes, img.pixels.data(), image_bytes);
      } catch (const ImageError& e) {
        failure[i] = e.reason.empty() ? "unreadable" : e.reason;
      } catch (const std::exception& e) {  // e.g. out of memory on one huge file: skip it too
        failure[i] = e.what();
      }
    }
  };
  unsigned count = threads > 0 ? static_cast<unsigned>(threads) : std::max(1u, std::thread::hardware_concurrency());
  count = static_cast<unsigned>(std::min<size_t>(count, std::max<size_t>(n, 1)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < count; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  LoadedImages out;
  out.height = height;
  out.width = width;
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!failure[i].empty()) {
      out.skipped.emplace_back(index.files[i], failure[i]);
      continue;
    }
    if (kept != i) std::memcpy(all.data() + kept * image_bytes, all.data() + i * image_bytes, image_bytes);
    out.labels.push_back(index.labels[i]);
    out.files.push_back(index.files[i]);
    ++kept;
  }
  all.resize(kept * image_bytes);
  all.shrink_to_fit();
  out.pixels = std::move(all);
  return out;
}

}  // namespace cxr::data
