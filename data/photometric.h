// The augmentation steps after the affine resampling, on 0-255 float HWC images, in Keras's order
// (apply_transform: flips, then brightness), then contrast (not in ImageDataGenerator; as Keras's
// later RandomContrast layer does it).
#pragma once

namespace cxr::data {

// Mirrors the columns (Keras's flip_axis on the column axis).
void flip_horizontal(float* img, int H, int W, int C);

// keras_preprocessing's apply_brightness_shift(x, brightness) with its default scale=True: the
// image goes through PIL as array_to_img does it, stretched to 0..255 by its own min and max
// (float32) and truncated to uint8, then ImageEnhance.Brightness(brightness), which is PIL's blend
// with black: truncate(brightness · v), clipped to 0..255. The stretch is a Keras quirk (an image
// that does not span 0..255 changes contrast too); it is kept because that is what Keras trains on.
void keras_brightness(float* img, int H, int W, int C, double brightness);

// Per channel: v' = (v - mean) · factor + mean, clipped to [0, 255] (tf.image.adjust_contrast as
// Keras's RandomContrast layer applies it; the mean is over the image's pixels of that channel).
void adjust_contrast(float* img, int H, int W, int C, double factor);

}  // namespace cxr::data
