// JPEG through TurboJPEG. Internal to data/: callers use decode.h.
#pragma once
#include <cstdint>
#include <string>

#include "data/image.h"

namespace cxr::data::detail {

// True when the bytes start with the JPEG SOI marker followed by another marker (FF D8 FF).
bool looks_like_jpeg(const uint8_t* bytes, size_t size);

Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name);

// Encodes 1- or 3-channel pixels; `grey` writes a single-component JPEG.
void encode_jpeg(const std::string& path, const Image& img, int quality, bool progressive, bool grey);

}  // namespace cxr::data::detail
