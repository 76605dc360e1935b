// JPEG through TurboJPEG. Internal to data/: callers use decode.h.
#pragma once
#include <cstdint>
#include <string>

#include "data/image.h"

namespace cxr::data::detail {

// True when the bytes start with the JPEG SOI marker followed by another marker (FF D8 FF).
bool looks_like_jpeg(const uint8_t* bytes, size_t size);

// With min_height and min_width > 0, decodes at the smallest of TurboJPEG's DCT-domain scales (1/8,
// 1/4, 3/8, 1/2, ... 1) whose output is still at least that large: far less IDCT and colour work
// for a big image bound for a small target, at the price of pixels that differ from a full decode.
Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name, int min_height = 0, int min_width = 0);

// Encodes 1- or 3-channel pixels; `grey` writes a single-component JPEG.
void encode_jpeg(const std::string& path, const Image& img, int quality, bool progressive, bool grey);

}  // namespace cxr::data::detail
