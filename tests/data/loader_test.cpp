// load_resized keeps good images in index order and reports bad ones without stopping.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "data/decode.h"
#include "data/loader.h"
#include "data/resize.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {
using testing::TempDir;

Image solid(int h, int w, uint8_t r, uint8_t g, uint8_t b) {
  Image img{h, w, 3, {}};
  for (int i = 0; i < h * w; ++i) img.pixels.insert(img.pixels.end(), {r, g, b});
  return img;
}

TEST(LoadResized, SkipsBadFilesAndKeepsOrder) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "NORMAL");
  std::filesystem::create_directories(dir.path() / "PNEUMONIA");
  write_jpeg(dir / "NORMAL/a.jpeg", solid(40, 60, 200, 30, 30), 95, false, false);
  write_jpeg(dir / "NORMAL/b.jpeg", solid(33, 17, 90, 90, 90), 95, true, true);
  testing::write_bytes(dir / "NORMAL/c.jpeg", "not an image at all");
  write_jpeg(dir / "PNEUMONIA/d.jpeg", solid(64, 64, 20, 180, 20), 95, false, false);
  testing::write_bytes(dir / "PNEUMONIA/e.jpeg", "");
  write_jpeg(dir / "PNEUMONIA/f.jpeg", solid(20, 50, 10, 10, 240), 95, false, false);

  const DatasetIndex index = scan_class_directory(dir.path().string());
  const LoadedImages got = load_resized(index, 12, 10, 3);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.height, 12);
  EXPECT_EQ(got.width, 10);
  EXPECT_EQ(got.labels, (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(got.files, (std::vector<std::string>{dir / "NORMAL/a.jpeg", dir / "NORMAL/b.jpeg", dir / "PNEUMONIA/d.jpeg",
                                                 dir / "PNEUMONIA/f.jpeg"}));
  ASSERT_EQ(got.pixels.size(), 4u * 12 * 10 * 3);
  ASSERT_EQ(got.skipped.size(), 2u);
  EXPECT_EQ(got.skipped[0].first, dir / "NORMAL/c.jpeg");
  EXPECT_NE(got.skipped[0].second.find("not a JPEG or PNG"), std::string::npos) << got.skipped[0].second;
  EXPECT_EQ(got.skipped[1].first, dir / "PNEUMONIA/e.jpeg");
  EXPECT_NE(got.skipped[1].second.find("empty"), std::string::npos) << got.skipped[1].second;

  // Each kept image is exactly decode + resize of its file.
  for (size_t i = 0; i < got.size(); ++i) {
    const Image want = resize_nearest(decode_image_file(got.files[i]), 12, 10);
    EXPECT_TRUE(std::equal(want.pixels.begin(), want.pixels.end(), got.image(i))) << got.files[i];
  }
  // Solid colours survive: the first image is red, the last blue.
  EXPECT_NEAR(got.image(0)[0], 200, 3);
  EXPECT_NEAR(got.image(3)[2], 240, 3);
}

// A FIFO or a link to /dev/zero named like an image was dropped by the scan without a word; now
// it is listed and skipped as unreadable (counted, and an error under --strict), like a bad JPEG.
TEST(LoadResized, FifosAndDevicesInAClassFolderAreSkippedAsUnreadable) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "NORMAL");
  write_jpeg(dir / "NORMAL/a.jpeg", solid(20, 20, 90, 90, 90), 95, false, false);
  ASSERT_EQ(::mkfifo((dir / "NORMAL/b.jpeg").c_str(), 0600), 0);
  std::filesystem::create_symlink("/dev/zero", dir / "NORMAL/c.jpeg");
  const LoadedImages got = load_resized(scan_class_directory(dir.path().string()), 8, 8, 1);
  EXPECT_EQ(got.files, (std::vector<std::string>{dir / "NORMAL/a.jpeg"}));
  ASSERT_EQ(got.skipped.size(), 2u);
  EXPECT_EQ(got.skipped[0].first, dir / "NORMAL/b.jpeg");
  EXPECT_EQ(got.skipped[1].first, dir / "NORMAL/c.jpeg");
  for (const auto& [file, reason] : got.skipped)
    EXPECT_NE(reason.find("not a regular file"), std::string::npos) << file << ": " << reason;
}

TEST(LoadResized, SameResultWithAnyThreadCount) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "C0");
  std::filesystem::create_directories(dir.path() / "C1");
  for (int i = 0; i < 12; ++i)
    write_jpeg(dir / ("C" + std::to_string(i % 2) + "/img" + std::to_string(i) + ".jpeg"),
               solid(20 + i, 30 - i, static_cast<uint8_t>(20 * i), 100, 50), 90, i % 3 == 0, i % 2 == 0);
  const DatasetIndex index = scan_class_directory(dir.path().string());
  const LoadedImages one = load_resized(index, 8, 8, 1), many = load_resized(index, 8, 8, 0);
  EXPECT_EQ(one.pixels, many.pixels);
  EXPECT_EQ(one.files, many.files);
  EXPECT_TRUE(one.skipped.empty());
}

// color_mode: grayscale gives one channel, converted before the resize as Keras's load_img does: with
// a filter that blends pixels, converting after the resize rounds differently.
TEST(LoadResized, GreyIsConvertedBeforeTheResize) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "A");
  const std::string file = testing::fixture_path("codec/ycc420.jpg");  // colour, 17x23
  std::filesystem::copy_file(file, dir / "A/colour.jpg");
  LoadOptions options;
  options.channels = 1;
  options.interpolation = Interpolation::bilinear;
  const LoadedImages got = load_resized(scan_class_directory(dir.path().string()), 7, 9, options);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.channels, 1);
  EXPECT_EQ(got.image_bytes(), 7u * 9u);
  const Image rgb = decode_image_file(file);
  const Image before = resize(to_grey(rgb), 7, 9, Interpolation::bilinear);
  const Image after = to_grey(resize(rgb, 7, 9, Interpolation::bilinear));
  EXPECT_EQ(got.pixels, before.pixels);
  EXPECT_NE(before.pixels, after.pixels);  // so the order is what the first check tells apart
  EXPECT_EQ(cache_variant(options), "exact-bilinear-grey");

  options.channels = 2;
  EXPECT_THROW(load_resized(scan_class_directory(dir.path().string()), 7, 9, options), std::invalid_argument);
}

}  // namespace
}  // namespace cxr::data
