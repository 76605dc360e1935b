// A synthetic stand-in for the Kermany chest X-ray folders, for tests, demos and CI: grey X-ray-like
// JPEGs in DIR/{train,test}/{NORMAL,PNEUMONIA}/, deterministic from a seed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "data/image.h"

namespace cxr::data {

struct SynthOptions {
  std::string out_dir;
  int train_normal = 60, train_pneumonia = 180, test_normal = 20, test_pneumonia = 60;
  int min_size = 96, max_size = 192;  // height and width are drawn independently in [min, max]
  uint64_t seed = 7;
  // > 0: the height is drawn in [min, max] and the width is the height times an aspect ratio drawn
  // log-uniformly in [1 / max_aspect, max_aspect], as real radiographs vary (the width may then
  // leave [min, max]). Last, so that {dir, counts..., min, max, seed} initialisers stay valid.
  double max_aspect = 0;
  // Called (from any of the writing threads) before each image is drawn; an exception from it stops
  // the set and is rethrown (how `cxrnet synth` stops on Ctrl-C).
  std::function<void()> before_each_image = {};

  // What `cxrnet synth` writes by default: the counts above at radiograph sizes, about 400 to 2000
  // px with aspect ratios up to 1.4, like the Kermany originals (tests use the small default).
  static SynthOptions realistic(std::string out_dir, uint64_t seed) {
    SynthOptions o;
    o.out_dir = std::move(out_dir);
    o.min_size = 400;
    o.max_size = 1700;
    o.max_aspect = 1.4;
    o.seed = seed;
    return o;
  }
};

// Where write_synthetic_dataset draws the set before moving train/ and test/ into out_dir.
inline constexpr const char* kUnfinishedSynthFolder = ".unfinished-synthetic-set";

// Writes the four folders (out_dir is created as needed; its train/ and test/ must not exist). Most
// files are baseline greyscale JPEGs; every 7th is progressive and every 11th is a 3-channel (YCbCr)
// JPEG, like the odd files of the real set. train/ appears last, whole, or not at all.
void write_synthetic_dataset(const SynthOptions& options);

// One synthetic radiograph (1 channel): a body silhouette with two darker lung fields, ribs,
// clavicles, spine, a heart shadow, faint hilar vessels and noise. Pneumonia adds 2–4 patchy,
// blurry bright opacities inside the lung fields; the brightness they add is taken back evenly over
// the lung fields, and every image is then shifted to a mean drawn alike for both classes, so
// neither the mean nor the background tells the class. `image_id` makes each image different.
Image render_synthetic_xray(bool pneumonia, int height, int width, uint64_t seed, uint64_t image_id);

}  // namespace cxr::data
