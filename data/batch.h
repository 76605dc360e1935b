// Batches as Keras's DirectoryIterator makes them: an index order per epoch, ceil(n / batch) batches
// (the last one partial), each image optionally augmented on 0–255 floats and then rescaled.
#pragma once
#include <cstdint>
#include <vector>

#include "data/affine.h"
#include "data/loader.h"

namespace cxr::data {

// ImageDataGenerator's zoom_range, width_shift_range and height_shift_range. A shift range below 1
// is a fraction of the image size, 1 or more a number of pixels (as in Keras). The options after
// centre_offset are off by default: rotation_range (degrees, Keras's), horizontal_flip (Keras's),
// brightness_range (Keras's [min, max] factors; both 0 = off) and contrast_range (factor drawn
// in [1 − r, 1 + r], as Keras's RandomContrast layer).
struct Augment {
  double zoom_range = 0, width_shift_range = 0, height_shift_range = 0;
  double centre_offset = kKerasCentreOffset_1_1_2;  // see affine.h
  double rotation_range = 0;
  bool horizontal_flip = false;
  double brightness_min = 0, brightness_max = 0;
  double contrast_range = 0;
  bool any() const {
    return zoom_range > 0 || width_shift_range > 0 || height_shift_range > 0 || rotation_range > 0 || horizontal_flip ||
           brightness_max > 0 || contrast_range > 0;
  }
};

// One image's transform, drawn as Keras's get_random_transform does (tx: rows, ty: columns; theta
// in degrees), plus the photometric draws (brightness 0 and contrast 1 mean none).
struct AffineDraw {
  double tx = 0, ty = 0, zx = 1, zy = 1;
  double theta = 0;
  bool flip = false;
  double brightness = 0, contrast = 1;
};

// The draws for image `image_index` in `epoch`: tx = U(−h, h)·H, ty = U(−w, w)·W, zx and zy =
// U(1 − z, 1 + z) independently, theta = U(−rotation, rotation), a flip when U < 0.5, brightness
// = U(min, max), contrast = U(1 − r, 1 + r). Each draw has its own Philox word, so turning one
// option on leaves the others' draws unchanged. Uniforms come from Philox keyed by (seed, epoch, image_index), so
// an image gets the same transform on any device, in any batch position, with any thread count.
AffineDraw draw_augmentation(const Augment& augment, int H, int W, uint64_t seed, uint64_t epoch, uint64_t image_index);

// The order in which an epoch visits the n images: 0..n−1 without shuffling, otherwise a permutation
// seeded by (seed, epoch), new every epoch as Keras reshuffles in on_epoch_end.
std::vector<int> epoch_order(int n, bool shuffle, uint64_t seed, int epoch);

// The order in which an epoch visits its batches. Keras's fit shuffles the order of a Sequence's
// batches every epoch, even when the generator itself does not shuffle samples (keras-facts §6),
// so in training batch k is always the same images but comes at a different point of the epoch;
// evaluation goes in order. The batch shuffle is keyed by seed + 1, apart from the sample shuffle.
std::vector<int> fit_batch_order(int batches, bool training, uint64_t seed, int epoch);

// ceil(n / batch): the last batch holds the n mod batch left-over images.
int num_batches(int n, int batch);

// Writes `count` images (indices into `images`) as count·H·W·3 floats (NHWC) to out_nhwc and their
// labels as floats to labels_out. Each pixel is float(v)·rescale; with `augment` the image is first
// transformed on 0–255 floats (Keras applies the transform before the rescale), in Keras's order:
// the affine resampling (rotation, shift, zoom), the flip, brightness; then contrast.
void fill_batch(const LoadedImages& images, const int* indices, int count, float rescale,
                const Augment* augment_or_null, uint64_t seed, uint64_t epoch, float* out_nhwc, float* labels_out);

}  // namespace cxr::data
