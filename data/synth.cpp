// Writing the synthetic data set's folders and files.
#include "data/synth.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "data/decode.h"

namespace cxr::data {
namespace {

// Kermany-like names: IM-0001-0001.jpeg for NORMAL, person1_bacteria_1.jpeg for PNEUMONIA.
std::string file_name(bool pneumonia, int i) {
  char name[64];
  if (pneumonia)
    std::snprintf(name, sizeof name, "person%d_bacteria_%d.jpeg", i + 1, 2 * i + 1);
  else
    std::snprintf(name, sizeof name, "IM-%04d-0001.jpeg", i + 1);
  return name;
}

void write_class(const SynthOptions& o, const std::string& split, bool pneumonia, int count, uint64_t stream) {
  const std::filesystem::path dir = std::filesystem::path(o.out_dir) / split / (pneumonia ? "PNEUMONIA" : "NORMAL");
  std::filesystem::create_directories(dir);
  for (int i = 0; i < count; ++i) {
    // Sizes and pixels both come from (seed, stream, i): any one file can be regenerated alone.
    const uint64_t id = (stream << 32) | static_cast<uint64_t>(i);
    const uint64_t size_bits = id * 0xD1B54A32D192ED03ull ^ (o.seed * 0x9E3779B97F4A7C15ull);
    const int span = o.max_size - o.min_size + 1;
    const int h = o.min_size + static_cast<int>((size_bits >> 8) % static_cast<uint64_t>(span));
    const int w = o.min_size + static_cast<int>((size_bits >> 36) % static_cast<uint64_t>(span));
    const Image img = render_synthetic_xray(pneumonia, h, w, o.seed, id);
    const bool progressive = i % 7 == 3, rgb = i % 11 == 5;
    write_jpeg((dir / file_name(pneumonia, i)).string(), img, 90, progressive, /*grey=*/!rgb);
  }
}

}  // namespace

void write_synthetic_dataset(const SynthOptions& o) {
  if (o.out_dir.empty()) throw std::invalid_argument("synthetic data set: out_dir is empty");
  if (o.min_size < 8 || o.max_size < o.min_size)
    throw std::invalid_argument("synthetic data set: need 8 <= min_size <= max_size, got " + std::to_string(o.min_size) +
                                ".." + std::to_string(o.max_size));
  if (o.train_normal < 0 || o.train_pneumonia < 0 || o.test_normal < 0 || o.test_pneumonia < 0)
    throw std::invalid_argument("synthetic data set: counts must not be negative");
  write_class(o, "train", false, o.train_normal, 0);
  write_class(o, "train", true, o.train_pneumonia, 1);
  write_class(o, "test", false, o.test_normal, 2);
  write_class(o, "test", true, o.test_pneumonia, 3);
}

}  // namespace cxr::data
