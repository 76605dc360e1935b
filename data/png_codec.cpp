// PNG decoding with libpng, reduced to 8-bit RGB the way PIL's convert('RGB') does: palette looked
// up, grey replicated, alpha and tRNS transparency dropped (not composited), 16-bit samples cut to
// their high byte. (PIL itself opens 16-bit grey as mode I;16 and clips it to 255 on convert; we
// keep the high byte instead, which is the meaningful 8-bit picture.)
//
// libpng reports errors with longjmp. The two functions that call setjmp hold no C++ objects with
// destructors in their frames, so a longjmp out of libpng skips nothing that needed cleaning up.
#include "data/png_codec.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "data/decode.h"

namespace cxr::data::detail {
namespace {

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char error[200];
};

void read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (count > src->size - src->pos) png_error(png, "file ends early (truncated PNG)");
  std::memcpy(out, src->data + src->pos, count);
  src->pos += count;
}

void on_error(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->error, sizeof src->error, "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // PIL ignores libpng's warnings as well

struct PngShape {
  png_uint_32 width, height;
  size_t row_bytes;
  int channels;
};

// Reads the header and sets up the conversions to 8-bit RGB. False on a libpng error.
bool read_header(png_structp png, png_infop info, PngShape* shape) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  shape->width = png_get_image_width(png, info);
  shape->height = png_get_image_height(png, info);
  if (uint64_t{shape->width} * shape->height > static_cast<uint64_t>(kMaxImagePixels)) return true;  // refused by the caller

  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  // 16 bits a sample: the high byte (PIL's RGB conversion agrees for 16-bit RGB and grey+alpha). For
  // 16-bit grey alone PIL opens mode I;16 and its convert('RGB') clips each value to 255, so Keras
  // sees such a scan (a DICOM export, say) almost all white; cxrnet keeps its high byte on purpose
  // (README, Data).
  if (bit_depth == 16) png_set_strip_16(png);
  png_set_strip_alpha(png);  // also drops the alpha a palette's tRNS would expand into
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  shape->row_bytes = png_get_rowbytes(png, info);
  shape->channels = png_get_channels(png, info);
  return true;
}

bool read_rows(png_structp png, png_bytep* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  return true;  // trailing chunks after the pixels are not needed, so png_read_end is skipped
}

void check_size(const std::string& name, uint64_t width, uint64_t height) {
  if (width * height > static_cast<uint64_t>(kMaxImagePixels))
    throw ImageError(name, "PNG header claims " + std::to_string(width) + "x" + std::to_string(height) +
                               " pixels, beyond the limit of " + std::to_string(kMaxImagePixels));
}

struct PngReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadGuard() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

}  // namespace

bool looks_like_png(const uint8_t* bytes, size_t size) {
  return size >= 8 && png_sig_cmp(bytes, 0, 8) == 0;
}

Image decode_png(const uint8_t* bytes, size_t size, const std::string& name) {
  // IHDR must be the first chunk, so its size fields sit at fixed offsets: check them before libpng
  // reads further (it would first walk every chunk up to the pixel data).
  if (size >= 24 && std::memcmp(bytes + 12, "IHDR", 4) == 0) {
    auto be32 = [&](size_t at) {
      return uint32_t{bytes[at]} << 24 | uint32_t{bytes[at + 1]} << 16 | uint32_t{bytes[at + 2]} << 8 | bytes[at + 3];
    };
    check_size(name, be32(16), be32(20));
  }
  PngSource src{bytes, size, 0, "unknown libpng error"};
  PngReadGuard guard;
  guard.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
  if (!guard.png) throw ImageError(name, "libpng could not start");
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) throw ImageError(name, "libpng could not start");
  png_set_read_fn(guard.png, &src, read_from_memory);

  PngShape shape{};
  if (!read_header(guard.png, guard.info, &shape)) throw ImageError(name, std::string("bad PNG (") + src.error + ")");
  check_size(name, shape.width, shape.height);
  if (shape.channels != 3 || shape.row_bytes != size_t{shape.width} * 3)
    throw ImageError(name, "PNG layout not reducible to 8-bit RGB");

  Image img{static_cast<int>(shape.height), static_cast<int>(shape.width), 3, {}};
  img.pixels.resize(shape.row_bytes * shape.height);
  std::vector<png_bytep> rows(shape.height);
  for (png_uint_32 r = 0; r < shape.height; ++r) rows[r] = img.pixels.data() + r * shape.row_bytes;
  if (!read_rows(guard.png, rows.data())) throw ImageError(name, std::string("bad PNG (") + src.error + ")");
  return img;
}

}  // namespace cxr::data::detail
