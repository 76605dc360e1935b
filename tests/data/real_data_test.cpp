// Checks on the real Kermany images in shared/data (never copied into the project). Skipped when
// the folder is absent, as on a machine without the shared data.
#include <gtest/gtest.h>

#include <string>

#include "data/decode.h"
#include "data/directory.h"
#include "data/loader.h"
#include "data/resize.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {

#define REQUIRE_SHARED_DATA(dir)                                                            \
  const std::string dir = testing::shared_data_dir();                                      \
  if (dir.empty()) GTEST_SKIP() << "shared/data/chest_xray_real not found (set CXR_SHARED_DIR)"

TEST(RealData, TrainFolderHasTheKaggleCounts) {
  REQUIRE_SHARED_DATA(shared);
  const DatasetIndex index = scan_class_directory(shared + "/chest_xray_real/train");
  EXPECT_EQ(index.class_names, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(class_counts(index), (std::vector<int>{1341, 3875}));
  const auto [train, validation] = split_stratified(index, 0.3, 42);
  EXPECT_EQ(class_counts(validation), (std::vector<int>{402, 1163}));
}

// decode + resize_nearest to 50x50 gives exactly the bytes Keras's load_img gave (fingerprints
// from tools/fixtures/make_real_pillow_fixture.py), for 224x224 colour files and original-size
// grey, progressive and colour files.
TEST(RealData, SingleFilesMatchKerasLoadImg) {
  REQUIRE_SHARED_DATA(shared);
  int checked = 0;
  for (const auto& f : testing::fixture_lines("real_pillow_50x50.txt")) {
    if (f[0] != "file") continue;
    SCOPED_TRACE(f[1]);
    const Image img = resize_nearest(decode_image_file(shared + "/" + f[1]), 50, 50);
    uint64_t sum = 0;
    for (uint8_t v : img.pixels) sum += v;
    EXPECT_EQ(sum, std::stoull(f[3]));
    EXPECT_EQ(testing::fnv1a64(img.pixels), std::stoull(f[2], nullptr, 16));
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

// Whole folders through scan_class_directory + load_resized: the same images, in the same order,
// byte for byte, as Keras's flow_from_directory(target_size=(50, 50), shuffle=False) would see.
// (The full-resolution folder takes a few seconds: it decodes 400 large JPEGs.)
TEST(RealData, WholeFoldersMatchKerasLoadImg) {
  REQUIRE_SHARED_DATA(shared);
  int checked = 0;
  for (const auto& f : testing::fixture_lines("real_pillow_50x50.txt")) {
    if (f[0] != "set") continue;
    SCOPED_TRACE(f[1]);
    const LoadedImages got = load_resized(scan_class_directory(shared + "/" + f[1]), 50, 50, 0);
    EXPECT_TRUE(got.skipped.empty()) << got.skipped.front().first << ": " << got.skipped.front().second;
    EXPECT_EQ(got.size(), std::stoull(f[2]));
    uint64_t sum = 0;
    for (uint8_t v : got.pixels) sum += v;
    EXPECT_EQ(sum, std::stoull(f[4]));
    EXPECT_EQ(testing::fnv1a64(got.pixels), std::stoull(f[3], nullptr, 16));
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

}  // namespace
}  // namespace cxr::data
