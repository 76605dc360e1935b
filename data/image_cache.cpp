#include "data/image_cache.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

#include "data/decode.h"

namespace cxr::data {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[8] = {'C', 'X', 'R', 'I', 'M', 'G', 'C', '1'};
constexpr uint32_t kVersion = 1;

// FNV-1a over 8-byte words (then the tail bytes): fast enough for hundreds of MB, and any flipped
// or truncated byte changes it.
uint64_t checksum(const uint8_t* p, size_t n) {
  uint64_t h = 0xCBF29CE484222325ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001B3ull;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

struct Writer {
  std::vector<uint8_t> bytes;
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof v);
  }
  void put_string(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
};

// Every read is bounds-checked: a corrupt length must end in "corrupt", never in a huge allocation
// or a read past the end.
struct Reader {
  const uint8_t* p;
  size_t n, at = 0;
  template <typename T>
  T get() {
    if (n - at < sizeof(T)) throw std::runtime_error("ends early");
    T v;
    std::memcpy(&v, p + at, sizeof v);
    at += sizeof v;
    return v;
  }
  std::string get_string() {
    const uint32_t len = get<uint32_t>();
    if (n - at < len) throw std::runtime_error("a string runs past the end");
    std::string s(reinterpret_cast<const char*>(p + at), len);
    at += len;
    return s;
  }
};

// Replaces `file` with `bytes` through a temporary file and a rename, so a reader never sees half
// a cache; on any failure the temporary file is removed and ImageError names what is wrong. Kept
// apart from the serialisation in save(): with both in one function GCC 12 reports a false
// -Warray-bounds on Writer::put.
void replace_file(const std::string& file, const std::vector<uint8_t>& bytes) {
  const fs::path dir = fs::path(file).parent_path();
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw ImageError(dir.string(), "cannot hold the image cache: it is a file, not a folder");
  if (fs::is_directory(file, ec))
    throw ImageError(file, "cannot write the image cache: a folder has its name (remove it or use another cache "
                           "folder)");
  fs::create_directories(dir, ec);
  if (ec) throw ImageError(dir.string(), "cannot create the image cache folder: " + ec.message());
  const std::string temp = file + ".tmp" + std::to_string(::getpid());
  std::string failure;
  if (std::FILE* f = std::fopen(temp.c_str(), "wb")) {
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (std::fclose(f) != 0 || !written) failure = "writing " + temp + " failed (disk full?)";
  } else {
    failure = "cannot create " + temp + ": " + std::strerror(errno);
  }
  if (failure.empty()) {
    fs::rename(temp, file, ec);
    if (ec) failure = "cannot rename " + temp + " to it: " + ec.message();
  }
  if (failure.empty()) return;
  fs::remove(temp, ec);
  throw ImageError(file, "cannot write the image cache: " + failure);
}

}  // namespace

FileStamp stamp_of(const std::string& path) {
  std::error_code ec1, ec2;
  FileStamp s;
  s.size = fs::file_size(path, ec1);
  const auto t = fs::last_write_time(path, ec2);
  if (ec1 || ec2) return {};
  s.mtime_ns = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  s.ok = true;
  return s;
}

ImageCache::ImageCache(const std::string& dir, int height, int width, const std::string& variant, int channels)
    : file_((fs::path(dir) / ("images-" + std::to_string(height) + "x" + std::to_string(width) + "-" + variant +
                              ".cxrcache")).string()),
      variant_(variant), height_(height), width_(width), channels_(channels) {
  std::error_code ec;
  if (!fs::exists(file_, ec)) return;
  try {
    read();
  } catch (const std::exception& e) {
    entries_.clear();
    problem_ = file_ + " is damaged (" + e.what() + "); rebuilding it";
    dirty_ = true;
  }
}

void ImageCache::read() {
  std::vector<uint8_t> bytes;
  try {
    bytes = read_file_bytes(file_);
  } catch (const ImageError& e) {
    throw std::runtime_error(e.reason);
  }
  if (bytes.size() < sizeof kMagic + 8 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw std::runtime_error("not a cxrnet image cache");
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (checksum(bytes.data(), bytes.size() - 8) != stored) throw std::runtime_error("checksum mismatch");

  Reader r{bytes.data(), bytes.size() - 8, sizeof kMagic};
  if (r.get<uint32_t>() != kVersion) throw std::runtime_error("another format version");
  const auto h = r.get<uint32_t>(), w = r.get<uint32_t>();
  const std::string variant = r.get_string();
  if (h != static_cast<uint32_t>(height_) || w != static_cast<uint32_t>(width_) || variant != variant_)
    throw std::runtime_error("made for another target size or decode variant");
  const size_t image_bytes = static_cast<size_t>(height_) * width_ * static_cast<size_t>(channels_);
  const auto count = r.get<uint64_t>();
  for (uint64_t i = 0; i < count; ++i) {
    std::string path = r.get_string();
    Entry e;
    e.stamp.size = r.get<uint64_t>();
    e.stamp.mtime_ns = r.get<int64_t>();
    e.stamp.ok = true;
    e.failure = r.get_string();
    if (e.failure.empty()) {
      if (r.n - r.at < image_bytes) throw std::runtime_error("pixels run past the end");
      e.pixels.assign(r.p + r.at, r.p + r.at + image_bytes);
      r.at += image_bytes;
    }
    entries_[std::move(path)] = std::move(e);
  }
  if (r.at != r.n) throw std::runtime_error("trailing bytes");
}

const ImageCache::Entry* ImageCache::find(const std::string& path, const FileStamp& stamp) const {
  const auto it = entries_.find(path);
  if (it == entries_.end() || !stamp.ok) return nullptr;
  const FileStamp& s = it->second.stamp;
  return s.size == stamp.size && s.mtime_ns == stamp.mtime_ns ? &it->second : nullptr;
}

void ImageCache::put(const std::string& path, Entry entry) {
  entries_[path] = std::move(entry);
  dirty_ = true;
}

void ImageCache::save() {
  if (!dirty_) return;
  Writer w;
  w.bytes.assign(kMagic, kMagic + sizeof kMagic);
  w.put(kVersion);
  w.put(static_cast<uint32_t>(height_));
  w.put(static_cast<uint32_t>(width_));
  w.put_string(variant_);
  std::vector<const std::pair<const std::string, Entry>*> live;
  std::error_code ec;
  for (const auto& item : entries_)
    if (fs::exists(item.first, ec)) live.push_back(&item);
  w.put(static_cast<uint64_t>(live.size()));
  for (const auto* item : live) {
    w.put_string(item->first);
    w.put(item->second.stamp.size);
    w.put(item->second.stamp.mtime_ns);
    w.put_string(item->second.failure);
    w.bytes.insert(w.bytes.end(), item->second.pixels.begin(), item->second.pixels.end());
  }
  w.put(checksum(w.bytes.data(), w.bytes.size()));

  replace_file(file_, w.bytes);
  dirty_ = false;
}

}  // namespace cxr::data
