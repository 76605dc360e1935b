// File reading and format dispatch by magic bytes. A file named .jpeg that is really a PNG decodes
// as a PNG (PIL does the same); text or garbage under any name is an ImageError.
#include "data/decode.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "data/jpeg_codec.h"
#include "data/png_codec.h"

namespace cxr::data {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  // Only a regular file (or a link to one) is read: opening a FIFO blocks until a writer comes, and
  // /dev/zero reads without end. A missing file is left to fopen's error.
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (std::filesystem::is_directory(st)) throw ImageError(path, "a folder, not a file");
  if (std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    throw ImageError(path, "not a regular file (a FIFO, device or socket)");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw FileAccessError(path, std::string("cannot open file: ") + std::strerror(errno));
  // One read of the whole file when its size is known (almost always), then chunks for the rest.
  std::vector<uint8_t> bytes;
  if (std::fseek(file.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(file.get());
    std::rewind(file.get());
    if (size > 0) {
      bytes.resize(static_cast<size_t>(size));
      bytes.resize(std::fread(bytes.data(), 1, bytes.size(), file.get()));
    }
  }
  uint8_t chunk[1 << 16];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof chunk, file.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  if (std::ferror(file.get())) throw FileAccessError(path, std::string("read error: ") + std::strerror(errno));
  return bytes;
}

Image decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name, int min_height,
                          int min_width) {
  if (size == 0) throw ImageError(name, "empty file");
  if (detail::looks_like_jpeg(bytes, size)) return detail::decode_jpeg(bytes, size, name, min_height, min_width);
  if (detail::looks_like_png(bytes, size)) return detail::decode_png(bytes, size, name);
  // The scan lists .bmp, .ppm and .tif(f) as Keras does, so these are named for what they are rather
  // than as garbage.
  const auto unsupported = [&](const char* format) {
    return ImageError(name, std::string("a ") + format +
                                " image; cxrnet decodes JPEG and PNG only (convert it, e.g. to PNG)");
  };
  if (size >= 2 && bytes[0] == 'B' && bytes[1] == 'M') throw unsupported("BMP");
  if (size >= 4 && ((bytes[0] == 'I' && bytes[1] == 'I' && bytes[2] == 42 && bytes[3] == 0) ||
                    (bytes[0] == 'M' && bytes[1] == 'M' && bytes[2] == 0 && bytes[3] == 42)))
    throw unsupported("TIFF");
  if (size >= 2 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '6') throw unsupported("PPM/PGM/PBM");
  throw ImageError(name, "not a JPEG or PNG (unrecognised first bytes)");
}

Image decode_image_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image_memory(bytes.data(), bytes.size(), path);
}

Image decode_image_file_fast(const std::string& path, int min_height, int min_width) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image_memory(bytes.data(), bytes.size(), path, min_height, min_width);
}

Image to_grey(const Image& rgb) {
  if (rgb.channels != 3) throw std::invalid_argument("to_grey: needs 3 channels, got " + std::to_string(rgb.channels));
  const size_t pixels = static_cast<size_t>(rgb.height) * static_cast<size_t>(rgb.width);
  if (rgb.pixels.size() != pixels * 3) throw std::invalid_argument("to_grey: pixel buffer does not match the shape");
  Image grey{rgb.height, rgb.width, 1, std::vector<uint8_t>(pixels)};
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = &rgb.pixels[i * 3];
    grey.pixels[i] = static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
  }
  return grey;
}

void write_jpeg(const std::string& path, const Image& img, int quality, bool progressive, bool grey) {
  detail::encode_jpeg(path, img, quality, progressive, grey);
}

}  // namespace cxr::data
