#include "engine/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "engine/error.h"

namespace cxr {

namespace {

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

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
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
    for (const auto& [name, t] : tensors) {
      const std::vector<float> host = t.to_vector();
      write_all(fd, host.data(), host.size() * sizeof(float), tmp);
    }
    CXR_CHECK(::fsync(fd) == 0, "fsync " << tmp << ": " << std::strerror(errno));
  } catch (...) {
    ::close(fd);
    std::remove(tmp.c_str());
    throw;
  }
  ::close(fd);
  CXR_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "rename " << tmp << " -> " << path << ": "
                                                                   << std::strerror(errno));
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in, "cannot open " << path);
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  CXR_CHECK(file_size >= 8, path << ": not a safetensors file (" << file_size << " bytes, truncated)");
  unsigned char size_le[8];
  in.read(reinterpret_cast<char*>(size_le), 8);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(size_le[i]) << (8 * i);
  CXR_CHECK(header_size <= file_size - 8, path << ": header of " << header_size << " bytes runs past the end of the "
                                               << file_size << "-byte file (truncated or not safetensors)");
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw InputError(path + ": the header is not valid JSON (" + e.what() + ")");
  }
  CXR_CHECK(header.is_object(), path << ": the header is not a JSON object");
  const uint64_t data_size = file_size - 8 - header_size;
  SafetensorsFile out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : entry.items()) {
        CXR_CHECK(v.is_string(), path << ": metadata '" << k << "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    CXR_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
              path << ": tensor '" << name << "' lacks dtype, shape or data_offsets");
    CXR_CHECK(entry["dtype"] == "F32", path << ": tensor '" << name << "' has dtype " << entry["dtype"].dump()
                                            << "; cxrnet reads F32 only");
    const Shape shape = entry["shape"].get<Shape>();
    const auto offsets = entry["data_offsets"].get<std::vector<uint64_t>>();
    CXR_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1] && offsets[1] <= data_size,
              path << ": tensor '" << name << "' points outside the file's " << data_size << " data bytes");
    CXR_CHECK(offsets[1] - offsets[0] == static_cast<uint64_t>(numel_of(shape)) * sizeof(float),
              path << ": tensor '" << name << "' has " << offsets[1] - offsets[0] << " bytes for shape "
                   << shape_str(shape));
    Tensor t = Tensor::empty(shape, Device::cpu(), name);
    in.seekg(static_cast<std::streamoff>(8 + header_size + offsets[0]));
    in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(offsets[1] - offsets[0]));
    CXR_CHECK(in, path << ": tensor '" << name << "' could not be read (truncated)");
    out.tensors.emplace(name, t);
  }
  return out;
}

}  // namespace cxr
