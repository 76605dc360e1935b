// Bad input that the other decode tests do not cover: stray bytes before a marker (libjpeg warns
// and decodes, as PIL does), garbage where a marker segment should be (an error naming the file),
// and a 3x2 image (decoded and resized like any other).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "data/decode.h"
#include "data/loader.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {
using testing::TempDir;

std::string small_jpeg(const TempDir& dir) {
  Image img{16, 24, 3, {}};
  for (int i = 0; i < 16 * 24; ++i) img.pixels.insert(img.pixels.end(), {uint8_t(i % 200), uint8_t(50 + i % 100), 90});
  write_jpeg(dir / "clean.jpeg", img, 92, false, false);
  return testing::read_bytes(dir / "clean.jpeg");
}

TEST(BadInputFiles, StrayBytesBeforeAMarkerStillDecodeToTheSamePixels) {
  TempDir dir;
  const std::string clean = small_jpeg(dir);
  const size_t sos = clean.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  testing::write_bytes(dir / "stray.jpeg", clean.substr(0, sos) + "junk!" + clean.substr(sos));
  EXPECT_EQ(decode_image_file(dir / "stray.jpeg").pixels, decode_image_file(dir / "clean.jpeg").pixels);
}

TEST(BadInputFiles, GarbageInsideAMarkerSegmentIsAnErrorNamingTheFile) {
  TempDir dir;
  std::string bytes = small_jpeg(dir);
  const size_t sof = bytes.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  for (size_t i = sof + 2; i < sof + 12; ++i) bytes[i] = '\x7F';  // length and frame header become nonsense
  testing::write_bytes(dir / "garbled.jpeg", bytes);
  try {
    decode_image_file(dir / "garbled.jpeg");
    ADD_FAILURE() << "decoded a garbled header";
  } catch (const ImageError& e) {
    EXPECT_EQ(e.path, dir / "garbled.jpeg");
    EXPECT_NE(e.reason.find("JPEG"), std::string::npos) << e.what();
  }
}

TEST(BadInputFiles, TinyImageIsKeptAndResized) {
  TempDir dir;
  Image tiny{2, 3, 3, {0, 0, 0, 90, 90, 90, 180, 180, 180, 30, 30, 30, 120, 120, 120, 210, 210, 210}};
  std::filesystem::create_directories(dir.path() / "A");
  write_jpeg(dir / "A/tiny.JPEG", tiny, 100, false, true);
  const Image got = decode_image_file(dir / "A/tiny.JPEG");
  ASSERT_EQ(got.height, 2);
  ASSERT_EQ(got.width, 3);
  const LoadedImages loaded = load_resized(DatasetIndex{{"A"}, {dir / "A/tiny.JPEG"}, {0}}, 4, 6, 1);
  ASSERT_EQ(loaded.size(), 1u);
  // Nearest 2x3 -> 4x6 doubles every pixel: output (r, c) is input (r / 2, c / 2).
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 6; ++c)
      EXPECT_EQ(loaded.image(0)[(r * 6 + c) * 3], got.pixels[static_cast<size_t>((r / 2) * 3 + c / 2) * 3]);
}

}  // namespace
}  // namespace cxr::data
