// An on-disk cache of decoded, resized images, so that a second run (or `cxrnet train` after
// `cxrnet split`) does no JPEG work. One file per (target size, decode variant) in a folder; each
// entry is keyed by the image's path, byte size and modification time, so an edited file is
// decoded again. A cache file that fails any check is never trusted: it is ignored and rebuilt.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace cxr::data {

// What identifies a file's contents without reading it.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool ok = false;  // false when the file could not be stat'ed
};
FileStamp stamp_of(const std::string& path);

class ImageCache {
 public:
  struct Entry {
    FileStamp stamp;
    std::string failure;          // non-empty: the file is unreadable, for this reason
    std::vector<uint8_t> pixels;  // height·width·channels when failure is empty
  };

  // Reads dir/images-<H>x<W>-<variant>.cxrcache when present. A missing file is an empty cache; a
  // damaged one (bad magic, version, size, checksum or layout) too, with the reason in problem().
  // `channels` (3 or 1) must be part of the variant's name: the file records no channel count.
  ImageCache(const std::string& dir, int height, int width, const std::string& variant, int channels = 3);

  // The entry for `path` when its stamp still matches, else null.
  const Entry* find(const std::string& path, const FileStamp& stamp) const;
  void put(const std::string& path, Entry entry);
  // Writes the cache when put() changed it (to a temporary file, then renamed over the old one, so
  // a reader never sees half a file). Entries whose file is gone are dropped. An I/O error is an
  // ImageError naming the file or folder, and leaves no temporary file behind.
  void save();

  const std::string& file() const { return file_; }
  const std::string& problem() const { return problem_; }
  size_t size() const { return entries_.size(); }

 private:
  void read();
  std::string file_, variant_, problem_;
  int height_, width_, channels_;
  bool dirty_ = false;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace cxr::data
