// Reading image files as Keras's load_img does (PIL open + convert('RGB')), and writing JPEGs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace cxr::data {

// Larger images are refused from their header, before any pixel memory is allocated: a corrupt
// or hostile header must not make a loader thread allocate gigabytes.
inline constexpr int64_t kMaxImagePixels = 100'000'000;

// Decodes a JPEG (baseline or progressive; grey, YCbCr or CMYK) or a PNG (any colour type and bit
// depth) into 3-channel RGB. The format comes from the magic bytes, never from the extension.
// Throws ImageError(path, reason) for anything unreadable.
Image decode_image_file(const std::string& path);

// decode: fast. JPEGs are decoded with TurboJPEG's DCT-domain scaling to the smallest size that is
// still at least min_height x min_width (then the caller resizes exactly); other formats at full
// size. Pixels differ from Keras's, which is why `exact` (decode_image_file) stays the default.
Image decode_image_file_fast(const std::string& path, int min_height, int min_width);

// Keras's color_mode 'grayscale' (PIL's convert('L')): ITU-R 601-2 luma in PIL's 16-bit fixed point,
// L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16, from a 3-channel image. The weights sum to 65536,
// so a grey pixel keeps its value. Taken from the decoded RGB, it equals PIL's own conversion from
// every mode (L, LA, 1, P, RGB, RGBA, CMYK): tests/data/fixtures/codec/codec_expected_grey.txt.
Image to_grey(const Image& rgb);

// The same from bytes already in memory; `name` is only used in error messages.
Image decode_image_memory(const uint8_t* bytes, size_t size, const std::string& name, int min_height = 0,
                          int min_width = 0);

// Writes `img` (1 or 3 channels) as a JPEG with 4:2:0 chroma (or a one-component greyscale JPEG
// when `grey`, converting RGB with ITU-R 601 luma as PIL's convert('L') does). Throws ImageError.
void write_jpeg(const std::string& path, const Image& img, int quality, bool progressive, bool grey);

// Reads a whole file; throws ImageError naming the file when it cannot be opened or read.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace cxr::data
