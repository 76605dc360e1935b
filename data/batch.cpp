#include "data/batch.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "data/permutation.h"
#include "data/photometric.h"
#include "kernels/philox.h"

namespace cxr::data {
namespace {

// U(−range, range) scaled to pixels when the range is a fraction, as Keras does.
double shift_in_pixels(double range, float u, int size) {
  const double shift = -range + 2.0 * range * static_cast<double>(u);
  return range < 1.0 ? shift * size : shift;
}

bool is_identity(const AffineDraw& d) {
  return d.tx == 0 && d.ty == 0 && d.zx == 1 && d.zy == 1 && d.theta == 0 && !d.flip && d.brightness == 0 &&
         d.contrast == 1;
}

// The draws added after the first four (rotation, flip, brightness, contrast) live in a second
// block far from the first, so the original shift and zoom draws of every image are unchanged.
constexpr uint64_t kSecondDrawBlock = uint64_t{1} << 40;

}  // namespace

AffineDraw draw_augmentation(const Augment& augment, int H, int W, uint64_t seed, uint64_t epoch, uint64_t image_index) {
  // One Philox block of four words per (image, epoch): words 0..3 drive tx, ty, zx, zy.
  const uint64_t key = seed ^ kAugmentStreamKey, first = image_index * 4;
  auto u = [&](uint64_t k) { return kernels::philox_uniform(key, epoch, first + k); };
  AffineDraw d;
  if (augment.height_shift_range != 0) d.tx = shift_in_pixels(augment.height_shift_range, u(0), H);
  if (augment.width_shift_range != 0) d.ty = shift_in_pixels(augment.width_shift_range, u(1), W);
  if (augment.zoom_range != 0) {
    const double z = augment.zoom_range;
    d.zx = (1.0 - z) + 2.0 * z * static_cast<double>(u(2));
    d.zy = (1.0 - z) + 2.0 * z * static_cast<double>(u(3));
  }
  auto v = [&](uint64_t k) { return static_cast<double>(kernels::philox_uniform(key, epoch, kSecondDrawBlock + first + k)); };
  if (augment.rotation_range != 0) d.theta = -augment.rotation_range + 2.0 * augment.rotation_range * v(0);
  if (augment.horizontal_flip) d.flip = v(1) < 0.5;
  if (augment.brightness_max > 0)
    d.brightness = augment.brightness_min + (augment.brightness_max - augment.brightness_min) * v(2);
  if (augment.contrast_range != 0) d.contrast = 1.0 - augment.contrast_range + 2.0 * augment.contrast_range * v(3);
  return d;
}

std::vector<int> epoch_order(int n, bool shuffle, uint64_t seed, int epoch) {
  if (n < 0) throw std::invalid_argument("epoch_order: n must not be negative");
  if (!shuffle) {
    std::vector<int> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    return order;
  }
  return seeded_permutation(n, seed ^ kShuffleStreamKey, static_cast<uint64_t>(epoch));
}

int num_batches(int n, int batch) {
  if (batch <= 0) throw std::invalid_argument("num_batches: the batch size must be positive");
  return n <= 0 ? 0 : (n + batch - 1) / batch;
}

void fill_batch(const LoadedImages& images, const int* indices, int count, float rescale,
                const Augment* augment_or_null, uint64_t seed, uint64_t epoch, float* out_nhwc, float* labels_out) {
  const int H = images.height, W = images.width, C = images.channels;
  const size_t image_floats = images.image_bytes();
  std::vector<float> raw(augment_or_null ? image_floats : 0);
  for (int b = 0; b < count; ++b) {
    const int index = indices[b];
    if (index < 0 || static_cast<size_t>(index) >= images.size())
      throw std::out_of_range("fill_batch: image index " + std::to_string(index) + " outside 0.." +
                              std::to_string(images.size()));
    const uint8_t* src = images.image(static_cast<size_t>(index));
    float* out = out_nhwc + static_cast<size_t>(b) * image_floats;
    labels_out[b] = static_cast<float>(images.labels[static_cast<size_t>(index)]);

    const AffineDraw d = augment_or_null
                             ? draw_augmentation(*augment_or_null, H, W, seed, epoch, static_cast<uint64_t>(index))
                             : AffineDraw{};
    if (is_identity(d)) {  // Keras skips the transform entirely in this case
      for (size_t i = 0; i < image_floats; ++i) out[i] = static_cast<float>(src[i]) * rescale;
      continue;
    }
    for (size_t i = 0; i < image_floats; ++i) raw[i] = static_cast<float>(src[i]);
    if (d.theta != 0) {
      double m[4], offset[2];
      keras_affine_matrix(H, W, d.theta, d.tx, d.ty, d.zx, d.zy, augment_or_null->centre_offset, m, offset);
      affine_transform_matrix(raw.data(), H, W, C, m, offset, out);
    } else if (d.tx != 0 || d.ty != 0 || d.zx != 1 || d.zy != 1) {
      affine_transform(raw.data(), H, W, C, d.zx, d.zy, d.tx, d.ty, augment_or_null->centre_offset, out);
    } else {
      std::copy(raw.begin(), raw.end(), out);
    }
    if (d.flip) flip_horizontal(out, H, W, C);
    if (d.brightness != 0) keras_brightness(out, H, W, C, d.brightness);
    if (d.contrast != 1) adjust_contrast(out, H, W, C, d.contrast);
    for (size_t i = 0; i < image_floats; ++i) out[i] *= rescale;
  }
}

std::vector<int> fit_batch_order(int batches, bool training, uint64_t seed, int epoch) {
  return training ? epoch_order(batches, true, seed + 1, epoch) : epoch_order(batches, false, 0, 0);
}

}  // namespace cxr::data
