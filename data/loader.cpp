#include "data/loader.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "data/decode.h"
#include "data/image_cache.h"

namespace cxr::data {

std::string cache_variant(const LoadOptions& options) {
  const char* interpolation = options.interpolation == Interpolation::bilinear ? "bilinear"
                              : options.interpolation == Interpolation::area   ? "area"
                                                                               : "nearest";
  return std::string(options.fast_decode ? "fast-" : "exact-") + interpolation + (options.channels == 1 ? "-grey" : "");
}

LoadedImages load_resized(const DatasetIndex& index, int height, int width, int threads) {
  LoadOptions options;
  options.threads = threads;
  return load_resized(index, height, width, options);
}

LoadedImages load_resized(const DatasetIndex& index, int height, int width, const LoadOptions& options) {
  if (height <= 0 || width <= 0) throw std::invalid_argument("load_resized: the target size must be positive");
  if (index.files.size() != index.labels.size()) throw std::invalid_argument("load_resized: files and labels differ in length");
  if (options.channels != 1 && options.channels != 3)
    throw std::invalid_argument("load_resized: channels must be 1 (grey) or 3 (RGB), got " +
                                std::to_string(options.channels));
  const size_t n = index.files.size();
  const size_t image_bytes = static_cast<size_t>(height) * width * static_cast<size_t>(options.channels);

  std::unique_ptr<ImageCache> cache;
  std::vector<std::string> keys;  // absolute paths: the same file reached from another folder hits
  std::vector<FileStamp> stamps;
  if (!options.cache_dir.empty()) {
    cache = std::make_unique<ImageCache>(options.cache_dir, height, width, cache_variant(options), options.channels);
    keys.resize(n);
    stamps.resize(n);
  }

  // Every file gets its slot in a full-size buffer, so workers never contend; failures are
  // squeezed out afterwards, which keeps the survivors in index order.
  std::vector<uint8_t> all(n * image_bytes);
  std::vector<std::string> failure(n);
  std::vector<char> decoded(n, 0), transient(n, 0);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      const std::string& path = index.files[i];
      if (cache) {  // find() only reads the cache, which nobody writes until the workers are done
        keys[i] = std::filesystem::absolute(path).lexically_normal().string();
        stamps[i] = stamp_of(path);
        if (const ImageCache::Entry* hit = cache->find(keys[i], stamps[i])) {
          if (hit->failure.empty()) std::memcpy(all.data() + i * image_bytes, hit->pixels.data(), image_bytes);
          failure[i] = hit->failure;
          continue;
        }
      }
      decoded[i] = 1;
      try {
        const Image rgb = options.fast_decode ? decode_image_file_fast(path, height, width) : decode_image_file(path);
        // Keras converts before it resizes; with a filter that blends pixels the order shows.
        const Image img = resize(options.channels == 1 ? to_grey(rgb) : rgb, height, width, options.interpolation);
        std::memcpy(all.data() + i * image_bytes, img.pixels.data(), image_bytes);
      } catch (const FileAccessError& e) {  // a permission or I/O error: may be gone next time
        failure[i] = e.reason;
        transient[i] = 1;
      } catch (const ImageError& e) {
        failure[i] = e.reason.empty() ? "unreadable" : e.reason;
      } catch (const std::exception& e) {  // e.g. out of memory on one huge file: skip it too, this time
        failure[i] = e.what();
        transient[i] = 1;
      }
    }
  };
  unsigned count = options.threads > 0 ? static_cast<unsigned>(options.threads)
                                       : std::max(1u, std::thread::hardware_concurrency());
  count = static_cast<unsigned>(std::min<size_t>(count, std::max<size_t>(n, 1)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < count; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  LoadedImages out;
  out.height = height;
  out.width = width;
  out.channels = options.channels;
  if (cache) {
    out.cache_problem = cache->problem();
    for (size_t i = 0; i < n; ++i) {
      // Not cached: a file that cannot be stat'ed, and a failure that was not about the file's content
      // (one cached 'Permission denied' stayed in the cache after a chmod, which changes no stamp).
      if (!decoded[i] || !stamps[i].ok || transient[i]) continue;
      ImageCache::Entry e{stamps[i], failure[i], {}};
      if (failure[i].empty()) e.pixels.assign(all.data() + i * image_bytes, all.data() + (i + 1) * image_bytes);
      cache->put(keys[i], std::move(e));
    }
    cache->save();
  }
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (decoded[i]) ++out.decoded;
    else ++out.from_cache;
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
