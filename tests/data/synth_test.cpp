// The synthetic data set: the right files, all decodable, deterministic, and with the class signal
// where it should be (in the lungs) and not in the mean brightness.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "data/decode.h"
#include "data/directory.h"
#include "data/synth.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {
using testing::TempDir;

// The number of components in the JPEG's frame header (1 = grey, 3 = colour), and whether it is
// progressive (SOF2).
std::pair<int, bool> jpeg_frame(const std::string& bytes) {
  for (size_t i = 2; i + 9 < bytes.size(); ++i)
    if (static_cast<uint8_t>(bytes[i]) == 0xFF && (static_cast<uint8_t>(bytes[i + 1]) == 0xC0 || static_cast<uint8_t>(bytes[i + 1]) == 0xC2))
      return {static_cast<uint8_t>(bytes[i + 9]), static_cast<uint8_t>(bytes[i + 1]) == 0xC2};
  return {0, false};
}

TEST(Synth, DefaultSetHasTheCountsAndEveryFileDecodes) {
  TempDir dir;
  SynthOptions options;
  options.out_dir = dir.path().string();
  const auto start = std::chrono::steady_clock::now();
  write_synthetic_dataset(options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 6.0) << "the default set should take well under 2 s on a normal machine";

  const DatasetIndex train = scan_class_directory(dir / "train"), test = scan_class_directory(dir / "test");
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(class_counts(train), (std::vector<int>{60, 180}));
  EXPECT_EQ(class_counts(test), (std::vector<int>{20, 60}));

  int progressive = 0, colour = 0;
  for (const DatasetIndex* index : {&train, &test})
    for (const std::string& f : index->files) {
      const Image img = decode_image_file(f);
      ASSERT_GE(std::min(img.height, img.width), 96) << f;
      ASSERT_LE(std::max(img.height, img.width), 192) << f;
      const auto [components, is_progressive] = jpeg_frame(testing::read_bytes(f));
      colour += components == 3;
      progressive += is_progressive;
    }
  EXPECT_GT(progressive, 10);
  EXPECT_GT(colour, 10);
  EXPECT_LT(colour, 80);

  // A trivial statistic must not tell the classes apart: the AUC of the file size (and of bytes per
  // pixel) as a pneumonia score, by Mann-Whitney over all (normal, pneumonia) pairs, is near 0.5.
  // With 60 and 180 files its standard deviation is about 0.043; the bound is 3 of those.
  std::vector<double> bytes[2], bytes_per_pixel[2];
  for (size_t i = 0; i < train.files.size(); ++i) {
    const Image img = decode_image_file(train.files[i]);
    const double size = static_cast<double>(std::filesystem::file_size(train.files[i]));
    bytes[train.labels[i]].push_back(size);
    bytes_per_pixel[train.labels[i]].push_back(size / (img.height * img.width));
  }
  auto auc = [](const std::vector<double>* by_class) {
    double wins = 0;
    for (double n : by_class[0])
      for (double p : by_class[1]) wins += p > n ? 1.0 : p == n ? 0.5 : 0.0;
    return wins / static_cast<double>(by_class[0].size() * by_class[1].size());
  };
  EXPECT_NEAR(auc(bytes), 0.5, 0.13);
  EXPECT_NEAR(auc(bytes_per_pixel), 0.5, 0.13);
}

TEST(Synth, DeterministicFromTheSeed) {
  TempDir a, b, c;
  SynthOptions o{a.path().string(), 3, 4, 1, 2, 64, 80, 99};
  write_synthetic_dataset(o);
  o.out_dir = b.path().string();
  write_synthetic_dataset(o);
  o.out_dir = c.path().string();
  o.seed = 100;
  write_synthetic_dataset(o);
  const DatasetIndex ia = scan_class_directory(a / "train"), ib = scan_class_directory(b / "train");
  const DatasetIndex ic = scan_class_directory(c / "train");
  ASSERT_EQ(ia.files.size(), 7u);
  for (size_t i = 0; i < ia.files.size(); ++i) {
    EXPECT_EQ(testing::read_bytes(ia.files[i]), testing::read_bytes(ib.files[i]));
    EXPECT_NE(testing::read_bytes(ia.files[i]), testing::read_bytes(ic.files[i]));
  }
}

// A run stopped partway (here by before_each_image, as Ctrl-C stops it; kill -9 leaves the same
// files) leaves no train/ or test/: a later train cannot pick up half a set. The next run over the
// same folder clears the unfinished one and writes the whole set.
TEST(Synth, AStoppedRunLeavesNoTrainFolderAndTheNextRunFinishes) {
  TempDir dir;
  SynthOptions o{dir.path().string(), 6, 6, 2, 2, 32, 40, 5};
  std::atomic<int> drawn{0};
  o.before_each_image = [&] {
    if (++drawn > 9) throw std::runtime_error("stopped");
  };
  EXPECT_THROW(write_synthetic_dataset(o), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(dir / "train"));
  EXPECT_FALSE(std::filesystem::exists(dir / "test"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / kUnfinishedSynthFolder / "train" / "PNEUMONIA"));

  o.before_each_image = {};
  write_synthetic_dataset(o);
  EXPECT_EQ(class_counts(scan_class_directory(dir / "train")), (std::vector<int>{6, 6}));
  EXPECT_EQ(class_counts(scan_class_directory(dir / "test")), (std::vector<int>{2, 2}));
  EXPECT_FALSE(std::filesystem::exists(dir / kUnfinishedSynthFolder));
  EXPECT_THROW(write_synthetic_dataset(o), std::invalid_argument) << "train/ and test/ are never overwritten";
}

double mean(const Image& img) {
  return std::accumulate(img.pixels.begin(), img.pixels.end(), 0.0) / static_cast<double>(img.pixels.size());
}

TEST(Synth, MeanBrightnessDoesNotTellTheClass) {
  double normal = 0, pneumonia = 0;
  const int n = 100;
  for (int i = 0; i < n; ++i) {
    normal += mean(render_synthetic_xray(false, 120, 140, 3, static_cast<uint64_t>(i)));
    pneumonia += mean(render_synthetic_xray(true, 120, 140, 3, static_cast<uint64_t>(1000 + i)));
  }
  // Target means are U(90, 130) for both classes: the class means agree to within sampling noise
  // (sd of a mean of 100 draws ≈ 1.2).
  EXPECT_NEAR(normal / n, pneumonia / n, 4.0);
}

// Same anatomy (same seed and id), with and without pneumonia: the difference is a few bright,
// localised patches, inside the lungs (the middle band of the image), big enough to survive 50x50.
TEST(Synth, PneumoniaAddsLocalisedBrightPatches) {
  for (uint64_t id = 0; id < 10; ++id) {
    const Image normal = render_synthetic_xray(false, 150, 150, 5, id), sick = render_synthetic_xray(true, 150, 150, 5, id);
    // Compare 6x6 block means (6 px = one pixel at 25x25), which averages the (different) noise out.
    double brightest = 0, brightest_row = 0;
    for (int br = 0; br < 25; ++br)
      for (int bc = 0; bc < 25; ++bc) {
        double diff = 0;
        for (int r = 0; r < 6; ++r)
          for (int c = 0; c < 6; ++c) {
            const size_t p = static_cast<size_t>(br * 6 + r) * 150 + static_cast<size_t>(bc * 6 + c);
            diff += static_cast<double>(sick.pixels[p]) - static_cast<double>(normal.pixels[p]);
          }
        if (diff / 36 > brightest) brightest = diff / 36, brightest_row = (br + 0.5) / 25;
      }
    EXPECT_GT(brightest, 20) << "image " << id;
    EXPECT_GT(brightest_row, 0.15) << "image " << id;
    EXPECT_LT(brightest_row, 0.85) << "image " << id;
  }
}

}  // namespace
}  // namespace cxr::data
