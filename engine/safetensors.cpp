#include "engine/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include <zlib.h>

#include "engine/error.h"

namespace cxr {

namespace {

// Each tensor's CRC-32 (zlib's), in the metadata as "crc32:NAME" -> 8 hex digits: a flipped or
// overwritten byte of data is refused by name instead of loading as a slightly different model.
// Files without them (older cxrnet files, other writers) load as before.
constexpr const char* kCrcPrefix = "crc32:";

std::string crc32_hex(const void* data, size_t bytes) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (bytes > 0) {  // zlib takes a 32-bit length
    const uInt n = static_cast<uInt>(std::min<size_t>(bytes, 1u << 30));
    crc = ::crc32(crc, p, n);
    p += n;
    bytes -= n;
  }
  char text[9];
  std::snprintf(text, sizeof text, "%08lx", static_cast<unsigned long>(crc));
  return text;
}

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    CXR_CHECK(n > 0, "writing " << path << ": " << std::strerror(errno));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

}  // namespace

std::string first_non_finite(const float* values, int64_t n, const Shape& shape) {
  const int64_t at = std::find_if(values, values + n, [](float f) { return !std::isfinite(f); }) - values;
  if (at == n) return "";
  std::ostringstream s;
  s << "holds " << values[at] << " at index " << at << " of " << shape_str(shape);
  return s.str();
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::vector<float>> host;  // read once: checksummed, checked, then written
  for (const auto& [key, value] : metadata)  // the loader would take it for a checksum and drop it
    CXR_CHECK(key.rfind(kCrcPrefix, 0) != 0,
              "cannot write " << path << ": metadata key '" << key << "' is reserved for the tensors' checksums");
  std::map<std::string, std::string> all_metadata = metadata;
  for (const auto& [name, t] : tensors) {
    const std::vector<float>& values = host[name] = t.to_vector();
    // The loader refuses a NaN or an infinity (below): never write a file it would refuse, and keep
    // the good one at `path` instead.
    const std::string bad = first_non_finite(values.data(), static_cast<int64_t>(values.size()), t.shape());
    CXR_CHECK(bad.empty(), "cannot write " << path << ": tensor '" << name << "' " << bad
                                           << "; saved tensors must be finite");
    all_metadata[kCrcPrefix + name] = crc32_hex(values.data(), values.size() * sizeof(float));
  }
  nlohmann::ordered_json header;
  if (!all_metadata.empty()) header["__metadata__"] = all_metadata;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {  // std::map: sorted names, so files are deterministic
    const size_t bytes = static_cast<size_t>(t.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the format allows padding; keeps data 8-byte aligned
  const uint64_t header_size = text.size();

  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CXR_CHECK(fd >= 0, "cannot write " << tmp << ": " << std::strerror(errno));
  try {
    unsigned char size_le[8];
    for (int i = 0; i < 8; ++i) size_le[i] = static_cast<unsigned char>(header_size >> (8 * i));
    write_all(fd, size_le, 8, tmp);
    write_all(fd, text.data(), text.size(), tmp);
    for (const auto& [name, values] : host) write_all(fd, values.data(), values.size() * sizeof(float), tmp);
    CXR_CHECK(::fsync(fd) == 0, "fsync " << tmp << ": " << std::strerror(errno));
  } catch (...) {
    ::close(fd);
    std::remove(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {  // the file at `path`, if any, is untouched
    const int error = errno;
    std::remove(tmp.c_str());  // a failed save leaves nothing behind
    CXR_CHECK(false, "cannot write " << path << ": "
                                     << (error == EISDIR ? "a folder has its name" : std::strerror(error)));
  }
}

namespace {

// Bytes of an F32 tensor of `shape`, refusing negative dimensions and products that overflow.
uint64_t checked_f32_bytes(const Shape& shape, const std::string& what) {
  uint64_t count = 1;
  for (int64_t d : shape) {
    CXR_CHECK(d >= 0, what << ": negative dimension in shape " << shape_str(shape));
    CXR_CHECK(!__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count),
              what << ": shape " << shape_str(shape) << " is too large");
  }
  uint64_t bytes = 0;
  CXR_CHECK(!__builtin_mul_overflow(count, uint64_t{sizeof(float)}, &bytes),
            what << ": shape " << shape_str(shape) << " is too large");
  return bytes;
}

struct Entry {
  std::string name;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the safetensors specification's limit
  // A folder opens as a stream whose reads fail and whose size is garbage; a device or FIFO has no
  // size at all: refuse anything but a regular file (or a link to one) before reading.
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);  // a missing file: the open says so
  CXR_CHECK(!std::filesystem::is_directory(st), path << " is a folder, not a weights file");
  CXR_CHECK(!std::filesystem::exists(st) || std::filesystem::is_regular_file(st),
            path << " is not a regular file (a device, FIFO or socket), not a weights file");
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in, "cannot open " << path << ": " << std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  CXR_CHECK(in && end >= 0, "cannot read " << path << " (its size is unknown)");
  const uint64_t file_size = static_cast<uint64_t>(end);
  in.seekg(0);
  CXR_CHECK(file_size >= 8, path << ": not a safetensors file (" << file_size << " bytes, truncated)");
  unsigned char size_le[8];
  in.read(reinterpret_cast<char*>(size_le), 8);
  CXR_CHECK(in, path << ": the header's length could not be read");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(size_le[i]) << (8 * i);
  CXR_CHECK(header_size <= file_size - 8 && header_size <= kMaxHeaderBytes,
            path << ": header of " << header_size << " bytes runs past the end of the " << file_size
                 << "-byte file (truncated or not safetensors)");
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  CXR_CHECK(in, path << ": the " << header_size << "-byte header could not be read (truncated)");
  nlohmann::json header;
  // A name listed twice: JSON keeps one entry, silently, and which bytes were meant is unknowable.
  std::set<std::string> names;
  std::string twice;
  const auto note_duplicates = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && !names.insert(parsed.get<std::string>()).second &&
        twice.empty())
      twice = parsed.get<std::string>();
    return true;
  };
  try {
    header = nlohmann::json::parse(text, note_duplicates);
  } catch (const std::exception& e) {
    throw InputError(path + ": the header is not valid JSON (" + e.what() + ")");
  }
  CXR_CHECK(header.is_object(), path << ": the header is not a JSON object");
  CXR_CHECK(twice.empty(), path << ": the header lists '" << twice << "' twice (a damaged or hand-made file)");
  const uint64_t data_size = file_size - 8 - header_size;

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, entry] : header.items()) {
    const std::string what = path + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      CXR_CHECK(entry.is_object(), path << ": __metadata__ is not a JSON object");
      for (const auto& [k, v] : entry.items()) {
        CXR_CHECK(v.is_string(), path << ": metadata '" << k << "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    CXR_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
              what << " lacks dtype, shape or data_offsets");
    CXR_CHECK(entry["dtype"] == "F32", what << " has dtype " << entry["dtype"].dump() << "; cxrnet reads F32 only");
    const auto& shape = entry["shape"];
    const auto& offsets = entry["data_offsets"];
    CXR_CHECK(shape.is_array() && std::all_of(shape.begin(), shape.end(), [](const auto& d) { return d.is_number_unsigned(); }),
              what << ": shape " << shape.dump() << " is not a list of non-negative integers");
    CXR_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                  offsets[1].is_number_unsigned(),
              what << ": data_offsets " << offsets.dump() << " is not a pair of non-negative integers");
    Entry e{name, shape.get<Shape>(), offsets[0].get<uint64_t>(), offsets[1].get<uint64_t>()};
    CXR_CHECK(e.begin <= e.end && e.end <= data_size,
              what << " points outside the file's " << data_size << " data bytes (truncated?)");
    CXR_CHECK(e.end - e.begin == checked_f32_bytes(e.shape, what),
              what << " has " << e.end - e.begin << " bytes for shape " << shape_str(e.shape));
    entries.push_back(std::move(e));
  }
  // The data must be the tensors back to back, each byte owned by one tensor (the format's rule):
  // overlapping or gapped offsets mean a damaged or hand-crafted file.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    CXR_CHECK(e.begin == expected, path << ": tensor '" << e.name << "' starts at byte " << e.begin << ", expected "
                                        << expected << " (overlapping or gapped data)");
    expected = e.end;
  }
  CXR_CHECK(expected == data_size, path << ": " << data_size - expected << " bytes after the last tensor");

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, Device::cpu(), e.name);
    in.seekg(static_cast<std::streamoff>(8 + header_size + e.begin));
    in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(e.end - e.begin));
    CXR_CHECK(in, path << ": tensor '" << e.name << "' could not be read (truncated)");
    // Weights, checkpoints and optimizer state are finite by construction (training stops when the
    // loss or a weight turns non-finite, and save_safetensors refuses one): a NaN or infinity means a
    // damaged or hand-edited file, whose predictions would all be NaN.
    const auto crc = out.metadata.find(kCrcPrefix + e.name);
    if (crc != out.metadata.end()) {
      const std::string actual = crc32_hex(t.data(), static_cast<size_t>(e.end - e.begin));
      CXR_CHECK(actual == crc->second, path << ": tensor '" << e.name << "' does not match its checksum (CRC-32 "
                                            << actual << ", the file says " << crc->second
                                            << "): the file is damaged");
    }
    const std::string bad = first_non_finite(t.data(), t.numel(), e.shape);
    CXR_CHECK(bad.empty(), path << ": tensor '" << e.name << "' " << bad << "; weights must be finite");
    out.tensors.emplace(e.name, t);
  }
  // The checksums are the format's business, not the caller's.
  std::erase_if(out.metadata, [](const auto& entry) { return entry.first.rfind(kCrcPrefix, 0) == 0; });
  return out;
}

}  // namespace cxr
