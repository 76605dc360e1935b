#include "apps/random_batch.h"

#include <random>
#include <vector>

namespace cxr {

RandomBatch random_batch(const ExperimentConfig& config, const Shape& input_shape, int64_t batch, Device device) {
  Shape shape{batch};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> pixel(0.0f, static_cast<float>(255.0 * config.data.rescale));
  std::vector<float> images(static_cast<size_t>(n)), labels(static_cast<size_t>(batch));
  for (float& v : images) v = pixel(gen);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 2);
  return {Tensor::from_vector(shape, images, device, "random images"),
          Tensor::from_vector({batch, 1}, labels, device, "random labels")};
}

}  // namespace cxr
