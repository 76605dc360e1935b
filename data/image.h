// An 8-bit image in memory, and the error every image reader throws.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cxr::data {

// Pixels are HWC, row-major: pixel (r, c) channel k is pixels[(r * width + c) * channels + k].
// Decoders always return channels == 3 (RGB), as Keras's load_img does after convert('RGB').
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// A file that cannot be read as an image. The message names the file and the reason, so a loader
// can record it and go on, and a user can find the file.
struct ImageError : std::runtime_error {
  ImageError(const std::string& path, const std::string& reason)
      : std::runtime_error(path + ": " + reason), path(path), reason(reason) {}
  std::string path, reason;
};

// The file could not be opened or read (permissions, an I/O error): about the access, not the
// content, so it may read fine next time and an image cache must not remember it.
struct FileAccessError : ImageError {
  using ImageError::ImageError;
};

}  // namespace cxr::data
