// The resampling step of Keras's ImageDataGenerator (shift + zoom about the centre).
#pragma once

namespace cxr::data {

// Keras's centre for the transform is o = size/2 + centre_offset along each axis.
// keras_preprocessing <= 1.1.2 (TF <= 2.8, the 2021 notebook) used +0.5, one pixel off-centre;
// keras >= 2.9 fixed it to -0.5 (the true centre of a grid 0..size-1).
inline constexpr double kKerasCentreOffset_1_1_2 = 0.5;
inline constexpr double kKerasCentreOffsetFixed = -0.5;

// dst(r, c, k) = src sampled at row zx·(r − o_r) + o_r + tx and column zy·(c − o_c) + o_c + ty,
// o_r = H/2 + centre_offset, o_c = W/2 + centre_offset: what scipy.ndimage.affine_transform(order=1,
// mode='nearest') computes for Keras's matrix, channel by channel. 'nearest' clamps a coordinate
// outside [0, size−1] onto the edge before interpolating, so the edge pixel repeats. src and dst are
// H·W·C floats (HWC) and must not overlap.
void affine_transform(const float* src, int H, int W, int C, double zx, double zy, double tx, double ty,
                      double centre_offset, float* dst);

// The general form, for Keras's rotation: dst(r, c, k) = src sampled at (row, col) =
// (m[0]·r + m[1]·c + offset[0], m[2]·r + m[3]·c + offset[1]), each coordinate clamped into the grid
// ('nearest') and interpolated bilinearly, as scipy.ndimage.affine_transform(order=1) does.
void affine_transform_matrix(const float* src, int H, int W, int C, const double m[4], const double offset[2],
                             float* dst);

// Keras's full matrix (apply_affine_transform: rotation · shift · zoom about the centre) for a
// rotation of theta_degrees, shifts tx (rows) and ty (columns) and zooms zx, zy; writes the 2x2
// part to m and the translation to offset, for affine_transform_matrix.
void keras_affine_matrix(int H, int W, double theta_degrees, double tx, double ty, double zx, double zy,
                         double centre_offset, double m[4], double offset[2]);

}  // namespace cxr::data
