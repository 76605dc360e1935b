// The on-disk image cache: a second load decodes nothing and gives the same pixels; an edited file
// is decoded again; a damaged cache file is ignored and rebuilt, never trusted. And decode: fast.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "data/decode.h"
#include "data/image_cache.h"
#include "data/loader.h"
#include "data/synth.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {
using testing::TempDir;
namespace fs = std::filesystem;

DatasetIndex small_set(const TempDir& dir) {
  fs::create_directories(dir.path() / "NORMAL");
  fs::create_directories(dir.path() / "PNEUMONIA");
  for (int i = 0; i < 6; ++i) {
    const bool pneumonia = i % 2;
    write_jpeg(dir / ((pneumonia ? "PNEUMONIA/p" : "NORMAL/n") + std::to_string(i) + ".jpeg"),
               render_synthetic_xray(pneumonia, 90 + 7 * i, 110 - 5 * i, 3, static_cast<uint64_t>(i)), 90, i == 3, true);
  }
  testing::write_bytes(dir / "NORMAL/broken.jpeg", "not an image");
  return scan_class_directory(dir.path().string());
}

TEST(ImageCache, SecondLoadComesFromTheCacheWithTheSamePixels) {
  TempDir dir, cache;
  const DatasetIndex index = small_set(dir);
  LoadOptions options;
  options.cache_dir = cache.path().string();
  const LoadedImages first = load_resized(index, 20, 24, options);
  EXPECT_EQ(first.decoded, 7u);
  EXPECT_EQ(first.from_cache, 0u);
  ASSERT_EQ(first.skipped.size(), 1u);

  const LoadedImages second = load_resized(index, 20, 24, options);
  EXPECT_EQ(second.decoded, 0u);
  EXPECT_EQ(second.from_cache, 7u);
  EXPECT_EQ(second.pixels, first.pixels);
  EXPECT_EQ(second.labels, first.labels);
  ASSERT_EQ(second.skipped.size(), 1u);  // the bad file is remembered with its reason
  EXPECT_EQ(second.skipped[0].second, first.skipped[0].second);
  EXPECT_EQ(second.pixels, load_resized(index, 20, 24, 1).pixels);  // and equals a cache-free load

  // Another target size or decode variant is another cache file: decoded afresh.
  EXPECT_EQ(load_resized(index, 21, 24, options).decoded, 7u);
}

// Grey and RGB loads of the same files share a cache folder but not a cache file: each hits its own.
TEST(ImageCache, GreyAndRgbAreCachedApart) {
  TempDir dir, cache;
  const DatasetIndex index = small_set(dir);
  LoadOptions rgb, grey;
  rgb.cache_dir = grey.cache_dir = cache.path().string();
  grey.channels = 1;
  const LoadedImages rgb_first = load_resized(index, 20, 24, rgb), grey_first = load_resized(index, 20, 24, grey);
  EXPECT_EQ(grey_first.decoded, 7u);  // not served from the RGB file
  ASSERT_EQ(grey_first.pixels.size(), 6u * 20 * 24);
  const LoadedImages rgb_again = load_resized(index, 20, 24, rgb), grey_again = load_resized(index, 20, 24, grey);
  EXPECT_EQ(rgb_again.from_cache, 7u);
  EXPECT_EQ(grey_again.from_cache, 7u);
  EXPECT_EQ(rgb_again.pixels, rgb_first.pixels);
  EXPECT_EQ(grey_again.pixels, grey_first.pixels);
  EXPECT_EQ(grey_again.channels, 1);
}

TEST(ImageCache, AnEditedFileIsDecodedAgain) {
  TempDir dir, cache;
  const DatasetIndex index = small_set(dir);
  LoadOptions options;
  options.cache_dir = cache.path().string();
  load_resized(index, 20, 24, options);
  write_jpeg(index.files[0], render_synthetic_xray(false, 64, 64, 9, 9), 80, false, true);  // new size and time
  const LoadedImages again = load_resized(index, 20, 24, options);
  EXPECT_EQ(again.decoded, 1u);
  EXPECT_EQ(again.from_cache, 6u);
  EXPECT_EQ(again.pixels, load_resized(index, 20, 24, 1).pixels);
}

// A file that could not be opened (here: no read permission) is skipped but not remembered: after a
// chmod, which changes neither its size nor its time, the next load reads it. Needs a user the
// permission applies to: as root the test takes the unprivileged uid 65534 for the loads.
TEST(ImageCache, AFileThatCouldNotBeOpenedIsNotRemembered) {
  TempDir dir, cache;
  const DatasetIndex index = small_set(dir);
  fs::permissions(cache.path(), fs::perms::all);  // the unprivileged loads write the cache
  const std::string& locked = index.files[1];  // NORMAL/n0.jpeg (files[0] is broken.jpeg)
  fs::permissions(locked, fs::perms::none);
  const uid_t uid = ::geteuid();
  const auto as_user = [&](auto load) {
    if (uid == 0) {
      EXPECT_EQ(::seteuid(65534), 0);
    }
    auto result = load();
    if (uid == 0) {
      EXPECT_EQ(::seteuid(0), 0);
    }
    return result;
  };
  LoadOptions options;
  options.cache_dir = cache.path().string();
  const LoadedImages first = as_user([&] { return load_resized(index, 20, 24, options); });
  if (first.skipped.size() == 1) GTEST_SKIP() << "this user reads a file without read permission";
  ASSERT_EQ(first.skipped.size(), 2u);  // broken.jpeg and the locked file
  EXPECT_EQ(first.skipped[1].first, locked);
  EXPECT_EQ(first.skipped[1].second, "cannot open file: Permission denied");

  fs::permissions(locked, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const LoadedImages second = as_user([&] { return load_resized(index, 20, 24, options); });
  EXPECT_EQ(second.decoded, 1u);  // the locked file, read now
  EXPECT_EQ(second.from_cache, 6u);  // broken.jpeg's content failure is remembered
  ASSERT_EQ(second.skipped.size(), 1u);
  EXPECT_EQ(second.pixels, load_resized(index, 20, 24, 1).pixels);
}

TEST(ImageCache, DamagedCacheIsRebuiltNotTrusted) {
  TempDir dir, cache;
  const DatasetIndex index = small_set(dir);
  LoadOptions options;
  options.cache_dir = cache.path().string();
  const LoadedImages clean = load_resized(index, 20, 24, options);
  const std::string file = ImageCache(options.cache_dir, 20, 24, cache_variant(options)).file();
  std::string bytes = testing::read_bytes(file);
  ASSERT_GT(bytes.size(), 2000u);

  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x40);  // one flipped bit in the pixels
  testing::write_bytes(file, bytes);
  LoadedImages got = load_resized(index, 20, 24, options);
  EXPECT_NE(got.cache_problem.find("checksum"), std::string::npos) << got.cache_problem;
  EXPECT_EQ(got.decoded, 7u);
  EXPECT_EQ(got.pixels, clean.pixels);
  got = load_resized(index, 20, 24, options);  // rebuilt: good again
  EXPECT_EQ(got.cache_problem, "");
  EXPECT_EQ(got.from_cache, 7u);

  testing::write_bytes(file, bytes.substr(0, bytes.size() / 3));  // truncated
  got = load_resized(index, 20, 24, options);
  EXPECT_NE(got.cache_problem, "");
  EXPECT_EQ(got.pixels, clean.pixels);
  testing::write_bytes(file, "garbage");
  got = load_resized(index, 20, 24, options);
  EXPECT_NE(got.cache_problem.find("not a cxrnet image cache"), std::string::npos) << got.cache_problem;
  EXPECT_EQ(got.pixels, clean.pixels);
}

// The cache cannot be written: an ImageError naming the path and why, and no temporary file left.
TEST(ImageCache, AnUnwritableCacheIsAnErrorAndLeavesNoTemporaryFile) {
  TempDir dir, cache;
  const DatasetIndex index = small_set(dir);
  LoadOptions options;
  options.cache_dir = cache.path().string();
  const std::string file = ImageCache(options.cache_dir, 20, 24, cache_variant(options)).file();
  fs::create_directories(file);  // a folder where the cache file goes
  try {
    load_resized(index, 20, 24, options);
    ADD_FAILURE() << "expected an ImageError";
  } catch (const ImageError& e) {
    EXPECT_EQ(std::string(e.what()), file + ": cannot write the image cache: a folder has its name (remove it or use "
                                            "another cache folder)");
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(cache.path()), fs::directory_iterator()), 1);  // the folder only

  testing::write_bytes(cache.path() / "a-file", "");
  options.cache_dir = (cache.path() / "a-file").string();
  try {
    load_resized(index, 20, 24, options);
    ADD_FAILURE() << "expected an ImageError";
  } catch (const ImageError& e) {
    EXPECT_EQ(std::string(e.what()), options.cache_dir + ": cannot hold the image cache: it is a file, not a folder");
  }
}

TEST(FastDecode, PicksTheSmallestScaleStillAtLeastTheTarget) {
  TempDir dir;
  write_jpeg(dir / "big.jpeg", render_synthetic_xray(true, 800, 600, 1, 1), 90, false, true);
  // 600x800 (HxW is 800x600 here: height 800): for a 50x50 target 1/8 gives 100x75 >= 50x50.
  EXPECT_EQ(decode_image_file_fast(dir / "big.jpeg", 50, 50).height, 100);
  EXPECT_EQ(decode_image_file_fast(dir / "big.jpeg", 50, 50).width, 75);
  // 224x224: 1/8 gives 75 wide, too small; 3/8 gives 300x225.
  const Image at_224 = decode_image_file_fast(dir / "big.jpeg", 224, 224);
  EXPECT_EQ(at_224.height, 300);
  EXPECT_EQ(at_224.width, 225);
  // A target larger than the image: full size.
  EXPECT_EQ(decode_image_file_fast(dir / "big.jpeg", 900, 10).height, 800);

  // The fast pixels are close to the exact ones after resizing (the DCT scaling averages blocks).
  DatasetIndex index{{"A"}, {dir / "big.jpeg"}, {0}};
  LoadOptions fast;
  fast.fast_decode = true;
  fast.interpolation = Interpolation::area;
  LoadOptions exact;
  exact.interpolation = Interpolation::area;
  const LoadedImages a = load_resized(index, 50, 50, fast), b = load_resized(index, 50, 50, exact);
  double diff = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) diff += std::abs(int{a.pixels[i]} - int{b.pixels[i]});
  EXPECT_LT(diff / static_cast<double>(a.pixels.size()), 3.0);
}

}  // namespace
}  // namespace cxr::data
