// JPEG decoding and encoding with TurboJPEG. The decoder uses libjpeg's defaults (accurate integer
// IDCT, "fancy" upsampling), which is what PIL uses too, so pixels match Keras's load_img.
#include "data/jpeg_codec.h"

#include <turbojpeg.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "data/decode.h"

namespace cxr::data::detail {
namespace {

struct TjDestroy {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDestroy>;

struct TjFree {
  void operator()(unsigned char* buffer) const { tjFree(buffer); }
};

std::string tj_message(tjhandle handle) { return tjGetErrorStr2(handle); }

// PIL's (a * b) / 255 with rounding, from its convert code.
inline int muldiv255(int a, int b) {
  const int tmp = a * b + 128;
  return ((tmp >> 8) + tmp) >> 8;
}

// PIL reads every CMYK JPEG with Adobe's inverted polarity (rawmode "CMYK;I"), then convert('RGB')
// computes each channel as (255 - k) - c·(255 - k)/255 on the inverted values. TurboJPEG hands us
// the stored (raw) values, so we invert first and then apply the same formula.
void cmyk_to_rgb(const std::vector<uint8_t>& cmyk, uint8_t* rgb, size_t pixels) {
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* in = &cmyk[i * 4];
    const int not_k = in[3];  // 255 - (255 - raw k)
    for (int ch = 0; ch < 3; ++ch) {
      const int v = not_k - muldiv255(255 - in[ch], not_k);
      rgb[i * 3 + ch] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

// libjpeg's warning for data that ends early (JWRN_JPEG_EOF), after which it pads with grey.
bool is_truncation(const std::string& message) {
  return message.find("Premature end of JPEG file") != std::string::npos;
}

// Whether an end-of-image marker (FF D9) follows the first start-of-scan (FF DA), found by walking the
// marker segments from the start (an EXIF thumbnail inside APP1 has markers of its own). Inside the
// entropy-coded data FF is always followed by 00 or a restart marker, so an FF D9 there is the end.
// TurboJPEG keeps only its first warning: when that one is harmless (stray bytes before a marker,
// common in real files), a later "Premature end of JPEG file" was never seen, and a file cut short
// loaded with its missing rows grey. This check does not depend on the warnings' order.
bool has_end_after_scan(const uint8_t* bytes, size_t size) {
  size_t at = 2;  // after SOI
  while (at + 4 <= size) {
    if (bytes[at] != 0xFF) {  // stray bytes between segments (libjpeg skips them with a warning)
      ++at;
      continue;
    }
    const uint8_t marker = bytes[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xDA) break;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length
      at += 2;
      continue;
    }
    at += 2 + ((size_t{bytes[at + 2]} << 8) | bytes[at + 3]);
  }
  for (size_t i = at + 2; i + 1 < size; ++i)
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xD9) return true;
  return false;
}

// TurboJPEG's factors come in no promised order; take the one giving the fewest pixels among
// those that keep both sides at least the minimum (1/1 always qualifies).
tjscalingfactor smallest_scale_at_least(int width, int height, int min_width, int min_height) {
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  tjscalingfactor best{1, 1};
  for (int i = 0; i < count; ++i) {
    const tjscalingfactor f = factors[i];
    if (f.num > f.denom) continue;  // never upscale in the decoder
    if (TJSCALED(width, f) < min_width || TJSCALED(height, f) < min_height) continue;
    if (int64_t{TJSCALED(width, f)} * TJSCALED(height, f) < int64_t{TJSCALED(width, best)} * TJSCALED(height, best))
      best = f;
  }
  return best;
}

}  // namespace

bool looks_like_jpeg(const uint8_t* bytes, size_t size) {
  return size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name, int min_height, int min_width) {
  // A fresh decompressor per file: a handle reused after a failed file carries its error state into
  // the next one (tried; header reads of good files then fail), and creating one is cheap.
  TjHandle tj(tjInitDecompress());
  if (!tj) throw ImageError(name, "TurboJPEG could not start: " + tj_message(nullptr));
  const auto jpeg_size = static_cast<unsigned long>(size);

  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  // A warning while reading the header (e.g. stray bytes before a marker) still fills in the
  // header; PIL accepts such files, so only a real error, or no size at all, is refused here.
  if (tjDecompressHeader3(tj.get(), bytes, jpeg_size, &width, &height, &subsamp, &colorspace) != 0 &&
      (tjGetErrorCode(tj.get()) != TJERR_WARNING || width <= 0 || height <= 0))
    throw ImageError(name, "unreadable JPEG header (" + tj_message(tj.get()) + ")");
  const std::string claims = "JPEG header claims " + std::to_string(width) + "x" + std::to_string(height) + " pixels";
  if (width <= 0 || height <= 0) throw ImageError(name, claims + " (an empty image, or a file cut short)");
  if (int64_t{width} * height > kMaxImagePixels)
    throw ImageError(name, claims + ", beyond the limit of " + std::to_string(kMaxImagePixels));

  if (min_height > 0 && min_width > 0) {
    const tjscalingfactor chosen = smallest_scale_at_least(width, height, min_width, min_height);
    width = TJSCALED(width, chosen);
    height = TJSCALED(height, chosen);
  }

  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int format = cmyk ? TJPF_CMYK : TJPF_RGB;
  const size_t pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
  std::vector<uint8_t> decoded(pixels * static_cast<size_t>(tjPixelSize[format]));
  // LIMITSCANS refuses progressive files with absurd scan counts (a known decompression bomb).
  // First pass: stop at the first libjpeg warning, so that every problem is seen as it happens.
  auto decode = [&](int flags) {
    return tjDecompress2(tj.get(), bytes, jpeg_size, decoded.data(), width, 0, height, format, TJFLAG_LIMITSCANS | flags);
  };
  if (decode(TJFLAG_STOPONWARNING) != 0) {
    const std::string first = tj_message(tj.get());
    if (tjGetErrorCode(tj.get()) != TJERR_WARNING) throw ImageError(name, "corrupt JPEG (" + first + ")");
    // libjpeg reports a file that ends early only as a warning ("Premature end of JPEG file") and
    // pads the rest with grey; PIL refuses such a file ("image file is truncated"), and so do we.
    if (is_truncation(first)) throw ImageError(name, "truncated JPEG (" + first + ")");
    // Any other warning (stray bytes before a marker; a marker met inside the scan data, "premature
    // end of data segment", in a file that goes on) leaves a usable image, which PIL accepts too:
    // decode again without stopping. TurboJPEG keeps reporting "warning" once one was seen, even if
    // a fatal error follows; a fatal error shows as a different message.
    decode(0);
    const std::string last = tj_message(tj.get());
    if (last != first) throw ImageError(name, "corrupt JPEG (" + last + ")");
    if (!has_end_after_scan(bytes, size))
      throw ImageError(name, "truncated JPEG (no end-of-image marker after the scan data; libjpeg's first warning: " +
                                 first + ")");
  }

  Image img{height, width, 3, {}};
  if (cmyk) {
    img.pixels.resize(pixels * 3);
    cmyk_to_rgb(decoded, img.pixels.data(), pixels);
  } else {
    img.pixels = std::move(decoded);
  }
  return img;
}

void encode_jpeg(const std::string& path, const Image& img, int quality, bool progressive, bool grey) {
  if (img.channels != 1 && img.channels != 3)
    throw ImageError(path, "write_jpeg needs 1 or 3 channels, got " + std::to_string(img.channels));
  const size_t pixels = static_cast<size_t>(img.height) * static_cast<size_t>(img.width);
  if (img.height <= 0 || img.width <= 0 || img.pixels.size() != pixels * static_cast<size_t>(img.channels))
    throw ImageError(path, "write_jpeg got an image whose pixel buffer does not match its shape");

  // Bring the pixels to the layout the JPEG will have: one grey plane or interleaved RGB.
  std::vector<uint8_t> converted;
  const uint8_t* src = img.pixels.data();
  if (grey && img.channels == 3) {
    converted = to_grey(img).pixels;  // PIL's convert('L')
    src = converted.data();
  } else if (!grey && img.channels == 1) {
    converted.resize(pixels * 3);
    for (size_t i = 0; i < pixels * 3; ++i) converted[i] = img.pixels[i / 3];
    src = converted.data();
  }

  TjHandle tj(tjInitCompress());
  if (!tj) throw ImageError(path, "TurboJPEG could not start: " + tj_message(nullptr));
  unsigned char* raw_out = nullptr;
  unsigned long out_size = 0;
  const int status = tjCompress2(tj.get(), src, img.width, 0, img.height, grey ? TJPF_GRAY : TJPF_RGB, &raw_out,
                                 &out_size, grey ? TJSAMP_GRAY : TJSAMP_420, quality,
                                 progressive ? TJFLAG_PROGRESSIVE : 0);
  std::unique_ptr<unsigned char, TjFree> out(raw_out);
  if (status != 0) throw ImageError(path, "JPEG encoding failed (" + tj_message(tj.get()) + ")");

  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) throw ImageError(path, std::string("cannot open for writing: ") + std::strerror(errno));
  // A full disk shows in fwrite or, for buffered bytes, only in fclose. Either way the partial file
  // is removed: a truncated JPEG left behind would be read later as a corrupt image.
  const bool written = std::fwrite(out.get(), 1, out_size, file) == out_size;
  int error = written ? 0 : errno;
  if (std::fclose(file) != 0 && error == 0) error = errno;
  if (!written || error != 0) {
    std::remove(path.c_str());
    throw ImageError(path, "could not write its " + std::to_string(out_size) + " bytes: " +
                               std::strerror(error != 0 ? error : EIO));
  }
}

}  // namespace cxr::data::detail
