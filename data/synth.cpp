// Writing the synthetic data set's folders and files.
#include "data/synth.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>
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

void write_one(const SynthOptions& o, const std::filesystem::path& dir, bool pneumonia, int i, uint64_t stream) {
  // Sizes and pixels both come from (seed, stream, i): any one file can be regenerated alone.
  const uint64_t id = (stream << 32) | static_cast<uint64_t>(i);
  const uint64_t size_bits = id * 0xD1B54A32D192ED03ull ^ (o.seed * 0x9E3779B97F4A7C15ull);
  const int span = o.max_size - o.min_size + 1;
  const int h = o.min_size + static_cast<int>((size_bits >> 8) % static_cast<uint64_t>(span));
  int w = o.min_size + static_cast<int>((size_bits >> 36) % static_cast<uint64_t>(span));
  if (o.max_aspect > 0) {
    const double u = static_cast<double>((size_bits >> 36) & 0xFFFFF) / double{0x100000};  // [0, 1)
    w = static_cast<int>(std::lround(h * std::pow(o.max_aspect, 2 * u - 1)));  // log-uniform aspect
  }
  const Image img = render_synthetic_xray(pneumonia, h, w, o.seed, id);
  const bool progressive = i % 7 == 3, rgb = i % 11 == 5;
  write_jpeg((dir / file_name(pneumonia, i)).string(), img, 90, progressive, /*grey=*/!rgb);
}

void write_class(const SynthOptions& o, const std::string& split, bool pneumonia, int count, uint64_t stream) {
  const std::filesystem::path dir = std::filesystem::path(o.out_dir) / split / (pneumonia ? "PNEUMONIA" : "NORMAL");
  std::filesystem::create_directories(dir);
  // Every file depends only on (seed, stream, i), so files are drawn on all cores in any order and
  // the result is the same; radiograph-sized images take ~0.1 s each to render.
  std::atomic<int> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (int i = next++; i < count && !failed; i = next++) {
      try {
        if (o.before_each_image) o.before_each_image();
        write_one(o, dir, pneumonia, i, stream);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;  // the others stop at their next image
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, std::thread::hardware_concurrency()); ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

void write_synthetic_dataset(const SynthOptions& o) {
  if (o.out_dir.empty()) throw std::invalid_argument("synthetic data set: out_dir is empty");
  if (o.min_size < 8 || o.max_size < o.min_size)
    throw std::invalid_argument("synthetic data set: need 8 <= min_size <= max_size, got " + std::to_string(o.min_size) +
                                ".." + std::to_string(o.max_size));
  if (o.max_aspect != 0 && !(o.max_aspect >= 1 && o.max_aspect <= 4))
    throw std::invalid_argument("synthetic data set: max_aspect must be 0 (off) or in [1, 4]");
  if (o.train_normal < 0 || o.train_pneumonia < 0 || o.test_normal < 0 || o.test_pneumonia < 0)
    throw std::invalid_argument("synthetic data set: counts must not be negative");
  const std::filesystem::path out(o.out_dir);
  for (const char* split : {"train", "test"})
    if (std::filesystem::exists(out / split))
      throw std::invalid_argument("synthetic data set: " + (out / split).string() + " already exists");
  // Drawn in a hidden folder and moved into place at the end, test/ first and train/ last: a run
  // killed partway (kill -9, a power cut) leaves no train/ for a later command to train on half a set.
  const std::filesystem::path staging = out / kUnfinishedSynthFolder;
  std::filesystem::remove_all(staging);  // a killed run's
  SynthOptions staged = o;
  staged.out_dir = staging.string();
  write_class(staged, "train", false, o.train_normal, 0);
  write_class(staged, "train", true, o.train_pneumonia, 1);
  write_class(staged, "test", false, o.test_normal, 2);
  write_class(staged, "test", true, o.test_pneumonia, 3);
  std::filesystem::rename(staging / "test", out / "test");
  std::filesystem::rename(staging / "train", out / "train");
  std::filesystem::remove(staging);
}

}  // namespace cxr::data
