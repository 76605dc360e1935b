// Throughput of the data pipeline: JPEG decode, resize, a whole-set load, batch filling.
// The whole-set loads use shared/data/chest_xray_real/train (5,216 files at 224x224) and
// shared/data/chest_xray_real_fullres/train (400 originals) when they are there (set
// CXR_SHARED_DIR). tools/bench-data runs the BM_Folder* ones beside a PIL peer and writes the ratio.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "data/batch.h"
#include "data/decode.h"
#include "data/directory.h"
#include "data/loader.h"
#include "data/resize.h"
#include "data/synth.h"

namespace {
using namespace cxr::data;

std::string shared_dir(const std::string& set) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("CXR_SHARED_DIR");
  for (fs::path base : {fs::path(env ? env : "") / "data", fs::path(env ? env : ""),
                        fs::path(CXR_SOURCE_DIR) / ".." / "shared" / "data"})
    if (fs::is_directory(base / set / "train")) return (base / set / "train").string();
  return {};
}
std::string shared_train_dir() { return shared_dir("chest_xray_real"); }

// A 224x224 grey synthetic radiograph stored as JPEG bytes, like the shared set's files.
const std::vector<uint8_t>& sample_jpeg() {
  static const std::vector<uint8_t> bytes = [] {
    const std::string path = (std::filesystem::temp_directory_path() / "cxr_bench_sample.jpeg").string();
    write_jpeg(path, render_synthetic_xray(true, 224, 224, 1, 1), 90, false, true);
    std::vector<uint8_t> b = read_file_bytes(path);
    std::filesystem::remove(path);
    return b;
  }();
  return bytes;
}

void BM_DecodeJpeg224(benchmark::State& state) {
  const std::vector<uint8_t>& bytes = sample_jpeg();
  for (auto _ : state) benchmark::DoNotOptimize(decode_image_memory(bytes.data(), bytes.size(), "sample"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeJpeg224);

void BM_ResizeNearest224To50(benchmark::State& state) {
  const Image img = decode_image_memory(sample_jpeg().data(), sample_jpeg().size(), "sample");
  for (auto _ : state) benchmark::DoNotOptimize(resize_nearest(img, 50, 50));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResizeNearest224To50);

// The real train set (5216 files) decoded and resized to 50x50 on all cores.
void BM_LoadResizedSharedTrain(benchmark::State& state) {
  const std::string dir = shared_train_dir();
  if (dir.empty()) {
    state.SkipWithError("shared/data/chest_xray_real/train not found");
    return;
  }
  const DatasetIndex index = scan_class_directory(dir);
  for (auto _ : state) {
    const LoadedImages loaded = load_resized(index, 50, 50, static_cast<int>(state.range(0)));
    if (!loaded.skipped.empty()) state.SkipWithError(("skipped " + loaded.skipped.front().first).c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(index.files.size()));
}
BENCHMARK(BM_LoadResizedSharedTrain)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(1);

// Decode + resize to the notebook's 50x50 on ONE thread (the per-core rate the PIL peer is compared
// with). Args: set (0 = 224x224 train, 1 = full-size originals), decode (0 = exact, 1 = fast).
void BM_FolderDecodeResize50(benchmark::State& state) {
  const std::string dir = shared_dir(state.range(0) == 0 ? "chest_xray_real" : "chest_xray_real_fullres");
  if (dir.empty()) {
    state.SkipWithError("shared data folder not found");
    return;
  }
  const DatasetIndex index = scan_class_directory(dir);
  LoadOptions options;
  options.threads = 1;
  options.fast_decode = state.range(1) == 1;
  for (auto _ : state) {
    const LoadedImages loaded = load_resized(index, 50, 50, options);
    if (!loaded.skipped.empty()) state.SkipWithError(("skipped " + loaded.skipped.front().first).c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(index.files.size()));
  state.SetLabel(state.range(0) == 0 ? "train224" : "fullres");
}
BENCHMARK(BM_FolderDecodeResize50)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"set", "fast"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();

// The whole 5,216-image train set decoded (exact, Keras's pixels) and resized to 50x50 on all
// cores and written to a fresh on-disk cache (Arg 0); then loaded again from that cache (Arg 1).
void BM_TrainSetDecodeAndCache(benchmark::State& state) {
  const std::string dir = shared_train_dir();
  if (dir.empty()) {
    state.SkipWithError("shared/data/chest_xray_real/train not found");
    return;
  }
  const DatasetIndex index = scan_class_directory(dir);
  const std::string cache = (std::filesystem::temp_directory_path() / "cxr_bench_cache").string();
  LoadOptions options;
  options.cache_dir = cache;
  std::filesystem::remove_all(cache);
  if (state.range(0) == 1) load_resized(index, 50, 50, options);  // warm it first
  for (auto _ : state) {
    const LoadedImages loaded = load_resized(index, 50, 50, options);
    if (loaded.size() != index.files.size()) state.SkipWithError("some files were skipped");
    if ((loaded.from_cache == index.files.size()) != (state.range(0) == 1)) state.SkipWithError("unexpected cache use");
  }
  std::filesystem::remove_all(cache);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(index.files.size()));
}
BENCHMARK(BM_TrainSetDecodeAndCache)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

void BM_FillBatch32Augmented(benchmark::State& state) {
  LoadedImages set;
  set.height = set.width = 50;
  for (int i = 0; i < 32; ++i) {
    const Image img = resize_nearest(render_synthetic_xray(i % 2, 120, 120, 3, static_cast<uint64_t>(i)), 50, 50);
    for (uint8_t v : img.pixels) set.pixels.insert(set.pixels.end(), {v, v, v});
    set.labels.push_back(i % 2);
  }
  std::vector<int> indices(32);
  for (int i = 0; i < 32; ++i) indices[static_cast<size_t>(i)] = i;
  std::vector<float> out(32 * 50 * 50 * 3), labels(32);
  const Augment aug{0.1, 0.1, 0.1};
  uint64_t epoch = 0;
  for (auto _ : state) fill_batch(set, indices.data(), 32, 0.02f, &aug, 42, epoch++, out.data(), labels.data());
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_FillBatch32Augmented);

}  // namespace
