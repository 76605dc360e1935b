// Decoding: our own JPEGs round-trip, Pillow-made files decode to Pillow's pixels, bad files fail
// with an ImageError that names them.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include "data/decode.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {
using testing::TempDir;

// A smooth picture (JPEG keeps it within a few levels) with distinct channels.
Image smooth_rgb(int h, int w) {
  Image img{h, w, 3, std::vector<uint8_t>(static_cast<size_t>(h) * w * 3)};
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      uint8_t* p = &img.pixels[(static_cast<size_t>(r) * w + c) * 3];
      p[0] = static_cast<uint8_t>(40 + 3 * r);
      p[1] = static_cast<uint8_t>(200 - 2 * c);
      p[2] = static_cast<uint8_t>(100 + r + c);
    }
  return img;
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int{a[i]} - int{b[i]}));
  return worst;
}

bool has_marker(const std::string& bytes, uint8_t marker) {
  for (size_t i = 0; i + 1 < bytes.size(); ++i)
    if (static_cast<uint8_t>(bytes[i]) == 0xFF && static_cast<uint8_t>(bytes[i + 1]) == marker) return true;
  return false;
}

TEST(Decode, GreyJpegBecomesThreeEqualChannels) {
  TempDir dir;
  Image grey{24, 32, 1, std::vector<uint8_t>(24 * 32)};
  for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = static_cast<uint8_t>(60 + (i % 32) * 4);
  write_jpeg(dir / "grey.jpeg", grey, 95, false, true);
  const Image got = decode_image_file(dir / "grey.jpeg");
  ASSERT_EQ(got.height, 24);
  ASSERT_EQ(got.width, 32);
  ASSERT_EQ(got.channels, 3);
  for (size_t i = 0; i < grey.pixels.size(); ++i) {
    ASSERT_EQ(got.pixels[i * 3], got.pixels[i * 3 + 1]);
    ASSERT_EQ(got.pixels[i * 3], got.pixels[i * 3 + 2]);
    ASSERT_NEAR(got.pixels[i * 3], grey.pixels[i], 4) << "pixel " << i;
  }
}

TEST(Decode, ProgressiveRgbJpegRoundTrips) {
  TempDir dir;
  const Image img = smooth_rgb(30, 41);  // odd width: partial MCUs
  write_jpeg(dir / "prog.jpeg", img, 95, true, false);
  ASSERT_TRUE(has_marker(testing::read_bytes(dir / "prog.jpeg"), 0xC2)) << "expected a progressive (SOF2) file";
  const Image got = decode_image_file(dir / "prog.jpeg");
  ASSERT_EQ(got.height, 30);
  ASSERT_EQ(got.width, 41);
  EXPECT_LE(max_abs_diff(got.pixels, img.pixels), 8);  // 4:2:0 chroma on a smooth image
}

TEST(Decode, WriteJpegGreyFromRgbUsesPilLuma) {
  TempDir dir;
  Image img{8, 8, 3, {}};
  for (int i = 0; i < 64; ++i) img.pixels.insert(img.pixels.end(), {200, 100, 50});
  write_jpeg(dir / "g.jpeg", img, 100, false, true);
  const Image got = decode_image_file(dir / "g.jpeg");
  // PIL's L = (19595·200 + 38470·100 + 7471·50 + 32768) >> 16 = 124.
  for (uint8_t v : got.pixels) ASSERT_NEAR(v, 124, 1);
}

TEST(Decode, FormatComesFromMagicBytesNotExtension) {
  TempDir dir;
  const std::string png = testing::read_bytes(testing::fixture_path("codec/grey.png"));
  testing::write_bytes(dir / "really_a_png.jpeg", png);
  const Image got = decode_image_file(dir / "really_a_png.jpeg");
  EXPECT_EQ(got.height, 9);
  EXPECT_EQ(got.width, 10);
}

// Each of the ten Pillow-made fixtures through `load`, against the pixels listed in `expected`
// (FILE H W v...).
void expect_fixtures_match(const std::string& expected, int channels,
                           const std::function<Image(const std::string&)>& load) {
  const auto lines = testing::fixture_lines("codec/" + expected);
  ASSERT_EQ(lines.size(), 10u);
  for (const auto& f : lines) {
    SCOPED_TRACE(f[0]);
    const Image got = load(testing::fixture_path("codec/" + f[0]));
    ASSERT_EQ(got.height, std::stoi(f[1]));
    ASSERT_EQ(got.width, std::stoi(f[2]));
    ASSERT_EQ(got.channels, channels);
    ASSERT_EQ(f.size(), 3 + got.pixels.size());
    std::vector<uint8_t> want;
    for (size_t i = 3; i < f.size(); ++i) want.push_back(static_cast<uint8_t>(std::stoi(f[i])));
    EXPECT_EQ(max_abs_diff(got.pixels, want), 0);
  }
}

// Every Pillow-made fixture decodes to exactly what Image.open(f).convert('RGB') gave.
TEST(Decode, MatchesPillowOnFixtures) {
  expect_fixtures_match("codec_expected.txt", 3, [](const std::string& path) { return decode_image_file(path); });
}

// color_mode: grayscale. Every fixture, decoded to RGB and then converted with to_grey, gives what
// Keras's load_img(color_mode='grayscale') gets from Pillow: no conversion for L, convert('L') for
// the other modes (16-bit grey keeps its high byte, as for RGB).
TEST(Decode, ToGreyMatchesPillowOnFixtures) {
  expect_fixtures_match("codec_expected_grey.txt", 1,
                        [](const std::string& path) { return to_grey(decode_image_file(path)); });
}

TEST(Decode, ToGreyIsPilLumaAndKeepsGrey) {
  // Pure red, green, blue, white and a grey: PIL's convert('L') gives 76, 150, 29, 255 and the grey.
  const Image rgb{1, 5, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 77, 77, 77}};
  const Image grey = to_grey(rgb);
  EXPECT_EQ(grey.channels, 1);
  EXPECT_EQ(grey.pixels, (std::vector<uint8_t>{76, 150, 29, 255, 77}));
  EXPECT_THROW(to_grey(grey), std::invalid_argument);  // needs 3 channels
}

// The bad-input cases: each must be an ImageError whose message contains the file's path.
void expect_image_error(const std::string& path, const std::string& reason_part) {
  try {
    decode_image_file(path);
    ADD_FAILURE() << path << " decoded although it should not";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(e.reason.find(reason_part), std::string::npos) << e.what();
    EXPECT_EQ(e.path, path);
  }
}

TEST(DecodeErrors, EmptyFile) {
  TempDir dir;
  testing::write_bytes(dir / "empty.jpeg", "");
  expect_image_error(dir / "empty.jpeg", "empty file");
}

TEST(DecodeErrors, MissingFile) {
  TempDir dir;
  expect_image_error(dir / "nope.jpeg", "cannot open");
}

TEST(DecodeErrors, TextNamedJpeg) {
  TempDir dir;
  testing::write_bytes(dir / "notes.jpeg", "This is not an X-ray, it is a text file.\n");
  expect_image_error(dir / "notes.jpeg", "not a JPEG or PNG");
}

TEST(DecodeErrors, Garbage) {
  TempDir dir;
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 7919 + 13) % 251));
  testing::write_bytes(dir / "junk.jpeg", junk);
  expect_image_error(dir / "junk.jpeg", "not a JPEG or PNG");
  testing::write_bytes(dir / "junk_with_jpeg_magic.jpeg", std::string("\xFF\xD8\xFF", 3) + junk);
  expect_image_error(dir / "junk_with_jpeg_magic.jpeg", "JPEG");
}

// The scan lists .bmp, .ppm, .tif and .tiff (as Keras and predict do); the decoder names each for what it is.
TEST(DecodeErrors, BmpTiffAndPpmAreNamedAsUnsupported) {
  TempDir dir;
  testing::write_bytes(dir / "scan.bmp", std::string("BM\x46\0\0\0\0\0\0\0\x36\0\0\0", 14) + std::string(56, '\0'));
  expect_image_error(dir / "scan.bmp", "a BMP image; cxrnet decodes JPEG and PNG only");
  testing::write_bytes(dir / "scan.tif", std::string("II*\0\x08\0\0\0", 8) + std::string(64, '\0'));
  expect_image_error(dir / "scan.tif", "a TIFF image; cxrnet decodes JPEG and PNG only");
  testing::write_bytes(dir / "scan.tiff", std::string("MM\0*\0\0\0\x08", 8) + std::string(64, '\0'));
  expect_image_error(dir / "scan.tiff", "a TIFF image; cxrnet decodes JPEG and PNG only");
  testing::write_bytes(dir / "scan.ppm", "P6\n2 2\n255\n" + std::string(12, '\x80'));
  expect_image_error(dir / "scan.ppm", "a PPM/PGM/PBM image; cxrnet decodes JPEG and PNG only");
}

// Only regular files are read: a device read without end (/dev/zero) and a FIFO blocked the open.
// /dev/null stands for any device here: same check, and no endless read if the check were missing.
TEST(DecodeErrors, DevicesAndSocketsAreRefusedBeforeReading) {
  TempDir dir;
  std::filesystem::create_symlink("/dev/null", dir / "device.jpeg");
  expect_image_error(dir / "device.jpeg", "not a regular file");
  const std::string socket_path = dir / "socket.jpeg";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof address.sun_path);
  socket_path.copy(address.sun_path, socket_path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  expect_image_error(socket_path, "not a regular file");
  ::close(fd);
}

// The first 20 bytes of a JPEG (SOI and the JFIF segment): TurboJPEG reads a 0x0 size from them.
TEST(DecodeErrors, JpegCutInItsHeaderIsNotCalledTooLarge) {
  TempDir dir;
  write_jpeg(dir / "whole.jpeg", smooth_rgb(16, 16), 90, false, false);
  testing::write_bytes(dir / "cut.jpeg", testing::read_bytes(dir / "whole.jpeg").substr(0, 20));
  try {
    decode_image_file(dir / "cut.jpeg");
    ADD_FAILURE() << "decoded";
  } catch (const ImageError& e) {
    EXPECT_EQ(e.reason, "JPEG header claims 0x0 pixels (an empty image, or a file cut short)");
  }
}

// A full disk (/dev/full, through a link so that only the link is removed): the reason is named and
// no partial file is left.
TEST(WriteJpeg, FailedWriteSaysWhyAndLeavesNoFile) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  TempDir dir;
  const std::string path = dir / "full.jpeg";
  std::filesystem::create_symlink("/dev/full", path);
  try {
    write_jpeg(path, smooth_rgb(16, 16), 90, false, false);
    ADD_FAILURE() << "wrote to /dev/full";
  } catch (const ImageError& e) {
    EXPECT_EQ(e.path, path);
    EXPECT_NE(e.reason.find(std::strerror(ENOSPC)), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path)));
  EXPECT_TRUE(std::filesystem::exists("/dev/full"));
}

// A picture with texture, so that most of the file is entropy-coded data after the first SOS.
Image textured_rgb(int h, int w) {
  Image img = smooth_rgb(h, w);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(img.pixels[i] ^ ((i * 2654435761u) >> 27));
  return img;
}

// Cut halfway between the first start-of-scan marker and the end: inside the coded data.
std::string cut_in_scan_data(const std::string& whole) {
  const size_t sos = whole.find("\xFF\xDA");
  EXPECT_NE(sos, std::string::npos);
  return whole.substr(0, sos + (whole.size() - sos) / 2);
}

TEST(DecodeErrors, TruncatedJpeg) {
  TempDir dir;
  write_jpeg(dir / "whole.jpeg", textured_rgb(96, 128), 90, false, false);
  const std::string whole = testing::read_bytes(dir / "whole.jpeg");
  testing::write_bytes(dir / "cut_in_data.jpeg", cut_in_scan_data(whole));
  expect_image_error(dir / "cut_in_data.jpeg", "truncated");
  testing::write_bytes(dir / "cut_in_header.jpeg", whole.substr(0, 40));
  expect_image_error(dir / "cut_in_header.jpeg", "JPEG");
  testing::write_bytes(dir / "no_end_marker.jpeg", whole.substr(0, whole.size() - 2));
  expect_image_error(dir / "no_end_marker.jpeg", "truncated");
}

// TurboJPEG keeps only its first warning. With stray bytes before a marker (a harmless warning,
// common in real files) coming first, a file cut in its scan data loaded with grey rows, even under
// --strict; a file with the same stray bytes that is whole still loads, as in PIL.
TEST(DecodeErrors, TruncatedJpegIsRefusedAfterAHarmlessWarning) {
  TempDir dir;
  for (const bool progressive : {false, true}) {
    SCOPED_TRACE(progressive ? "progressive" : "baseline");
    write_jpeg(dir / "whole.jpeg", textured_rgb(96, 128), 90, progressive, false);
    std::string whole = testing::read_bytes(dir / "whole.jpeg");
    const size_t dht = whole.find("\xFF\xC4");
    ASSERT_NE(dht, std::string::npos);
    whole.insert(dht, "\x12\x34");  // "2 extraneous bytes before marker 0xc4"
    testing::write_bytes(dir / "stray.jpeg", whole);
    EXPECT_EQ(decode_image_file(dir / "stray.jpeg").pixels,
              decode_image_file(dir / "whole.jpeg").pixels);
    testing::write_bytes(dir / "stray_cut.jpeg", whole.substr(0, whole.size() * 7 / 10));
    expect_image_error(dir / "stray_cut.jpeg", "truncated JPEG");
  }
}

// Progressive files fail later (in a later scan, or on a scan header cut short): every cut point
// must give an error, never a half-grey image.
TEST(DecodeErrors, TruncatedProgressiveJpeg) {
  TempDir dir;
  write_jpeg(dir / "whole.jpeg", textured_rgb(96, 128), 90, true, false);
  const std::string whole = testing::read_bytes(dir / "whole.jpeg");
  for (size_t cut = whole.size() / 8; cut < whole.size(); cut += whole.size() / 8) {
    testing::write_bytes(dir / "cut.jpeg", whole.substr(0, cut));
    expect_image_error(dir / "cut.jpeg", "JPEG");
  }
}

TEST(DecodeErrors, TruncatedPng) {
  TempDir dir;
  const std::string png = testing::read_bytes(testing::fixture_path("codec/rgba.png"));
  testing::write_bytes(dir / "cut.png", png.substr(0, png.size() - 30));
  expect_image_error(dir / "cut.png", "PNG");
}

// A JPEG whose frame header claims 60000x60000 (3.6 gigapixels): refused from the header alone.
TEST(DecodeErrors, AbsurdJpegSizeRefusedBeforeAllocating) {
  TempDir dir;
  write_jpeg(dir / "small.jpeg", smooth_rgb(16, 16), 90, false, false);
  std::string bytes = testing::read_bytes(dir / "small.jpeg");
  const size_t sof = bytes.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  for (size_t at : {sof + 5, sof + 7}) {  // height, then width, big-endian 16-bit
    bytes[at] = static_cast<char>(60000 >> 8);
    bytes[at + 1] = static_cast<char>(60000 & 0xFF);
  }
  testing::write_bytes(dir / "huge.jpeg", bytes);
  expect_image_error(dir / "huge.jpeg", "beyond the limit");
}

uint32_t crc32(const std::string& bytes) {  // the PNG chunk CRC (ISO-HDLC), bit by bit
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(DecodeErrors, AbsurdPngSizeRefusedBeforeAllocating) {
  TempDir dir;
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  // IHDR: 20000 x 20000, 8-bit RGB: 400 megapixels, within libpng's own limits but not ours.
  const std::string ihdr = "IHDR" + be32(20000) + be32(20000) + std::string("\x08\x02\x00\x00\x00", 5);
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(crc32(ihdr));
  testing::write_bytes(dir / "huge.png", png);
  expect_image_error(dir / "huge.png", "beyond the limit");
}

}  // namespace
}  // namespace cxr::data
