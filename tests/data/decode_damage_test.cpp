// Every truncation and single-byte change of each codec fixture (baseline, progressive, CMYK and
// grey JPEGs; grey, 16-bit, alpha, palette and 1-bit PNGs), decoded at full size and through the
// scaled JPEG path: an ImageError naming the file, or a well-formed image, and every cut that loses
// pixels an ImageError. Never a crash, a read past the end (tools/test --sanitize), another exception type,
// or an image whose pixels do not fill it.
#include <gtest/gtest.h>

#include "data/decode.h"
#include "tests/damaged_copies.h"
#include "tests/data/data_test_support.h"

namespace cxr::data {
namespace {

using cxr::testing::DamagedCopy;

void expect_every_damage_handled(const std::string& fixture, int min_height, int min_width) {
  const std::string text = testing::read_bytes(testing::fixture_path("codec/" + fixture));
  const std::vector<uint8_t> good(text.begin(), text.end());
  ASSERT_GT(good.size(), 50u) << fixture;
  const std::string name = "damaged/" + fixture;
  const Image whole = decode_image_memory(good.data(), good.size(), name, min_height, min_width);
  cxr::testing::DamageFindings findings;
  size_t copies = 0, refused = 0;
  cxr::testing::for_each_damaged_copy(good, [&](const DamagedCopy& copy) {
    ++copies;
    try {
      const Image image = decode_image_memory(copy.bytes.data(), copy.bytes.size(), name, min_height, min_width);
      // A file cut short must be refused unless it lost none of the pixels (a PNG's closing IEND
      // chunk, which PIL does without too): decoded, missing rows would be grey (libjpeg) or left
      // out, and a model would train on them without a word.
      if (copy.bytes.size() < good.size() && image.pixels != whole.pixels)
        findings.add(copy, "a cut file decoded to other pixels");
      else if (image.height <= 0 || image.width <= 0 || image.channels != 3 ||
          image.pixels.size() != size_t(image.height) * size_t(image.width) * 3)
        findings.add(copy, "decoded to " + std::to_string(image.height) + "x" + std::to_string(image.width) + "x" +
                               std::to_string(image.channels) + " with " + std::to_string(image.pixels.size()) +
                               " bytes");
    } catch (const ImageError& e) {
      ++refused;
      if (e.path != name) findings.add(copy, "ImageError names '" + e.path + "', not the file");
    } catch (const std::exception& e) {
      findings.add(copy, std::string("not an ImageError: ") + e.what());
    }
  });
  EXPECT_TRUE(findings.empty()) << fixture << " (at least " << min_height << "x" << min_width << "): "
                                << findings.report();
  // Every cut but those that lose only a PNG's 12-byte IEND chunk.
  EXPECT_GE(refused, good.size() - 12) << fixture << ": " << refused << " of " << copies << " refused";
}

TEST(DecodeDamage, EveryCutAndByteChangeOfAJpegIsAnImageErrorOrAnImage) {
  for (const char* fixture : {"ycc420.jpg", "progressive.jpg", "grey.jpg", "cmyk.jpg"}) {
    expect_every_damage_handled(fixture, 0, 0);
    expect_every_damage_handled(fixture, 4, 4);  // TurboJPEG's scaled decode
  }
}

TEST(DecodeDamage, EveryCutAndByteChangeOfAPngIsAnImageErrorOrAnImage) {
  for (const char* fixture : {"rgba.png", "palette.png", "grey_alpha.png", "grey.png", "grey16.png", "bilevel.png"})
    expect_every_damage_handled(fixture, 0, 0);
}

}  // namespace
}  // namespace cxr::data
