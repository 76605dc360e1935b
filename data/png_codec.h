// PNG through libpng. Internal to data/: callers use decode.h.
#pragma once
#include <cstdint>
#include <string>

#include "data/image.h"

namespace cxr::data::detail {

// True when the bytes start with the 8-byte PNG signature.
bool looks_like_png(const uint8_t* bytes, size_t size);

Image decode_png(const uint8_t* bytes, size_t size, const std::string& name);

}  // namespace cxr::data::detail
