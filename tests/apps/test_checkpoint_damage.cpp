// Every truncation, and every single-byte change in the header (sampled in the tensor data), of a
// checkpoint: a clear InputError naming the file, or a load of a state that is still valid (a
// changed loss in the history, say). Never a crash, a read past the end (tools/test --sanitize),
// another exception type or a huge allocation: resume and evaluate read these files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "apps/checkpoint.h"
#include "engine/error.h"
#include "tests/damaged_copies.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::DamagedCopy;

TEST(CheckpointDamage, EveryCutAndHeaderByteChangeIsAClearErrorOrAValidLoad) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_checkpoint_damage_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string good_path = (dir / "good.safetensors").string(), path = (dir / "damaged.safetensors").string();
  Model model = build_model(SpecNode::load_string("input: [6, 6, 1]\nlayers:\n"
                                                  "  - {type: Conv2D, filters: 2, kernel: 3}\n"
                                                  "  - {type: BatchNormalization}\n  - {type: Flatten}\n"
                                                  "  - {type: Dense, units: 1}\n",
                                                  "damage.yaml"),
                            7);
  Adam adam(model.trainable_tensors(), AdamOptions{});
  TrainingState state;
  state.epochs_completed = 2;
  state.iterations = 6;
  state.learning_rate = 0.001f;
  state.seed = 42;
  state.train_samples = 96;
  state.train_files_hash = "0123456789abcdef";
  for (int e = 1; e <= 2; ++e) {
    EpochResult r;
    r.epoch = e;
    r.loss = 0.5 / e;
    r.accuracy = 0.75;
    r.learning_rate = 0.001f;
    r.steps = 3;
    state.history.push_back(r);
  }
  save_checkpoint(good_path, model, adam, state, "name: damage\n");
  std::ifstream in(good_path, std::ios::binary);
  const std::vector<uint8_t> good{std::istreambuf_iterator<char>(in), {}};
  ASSERT_GT(good.size(), 8u);
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | good[i];
  ASSERT_LT(header_bytes + 8, good.size());

  testing::DamageFindings findings;
  size_t copies = 0, refused = 0;
  auto visit = [&](const DamagedCopy& copy) {
    ++copies;
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(copy.bytes.data()), static_cast<std::streamsize>(copy.bytes.size()));
    }
    try {
      const LoadedCheckpoint loaded = load_checkpoint(path, model, &adam, /*copy=*/false);
      if (loaded.state.epochs_completed != int(loaded.state.history.size()))
        findings.add(copy, "loaded " + std::to_string(loaded.state.history.size()) + " history rows for " +
                               std::to_string(loaded.state.epochs_completed) + " epochs");
    } catch (const InputError& e) {
      ++refused;
      if (std::string(e.what()).find(path) == std::string::npos)
        findings.add(copy, std::string("InputError without the file's name: ") + e.what());
    } catch (const std::exception& e) {
      findings.add(copy, std::string("not an InputError: ") + e.what());
    }
  };
  testing::for_each_damaged_copy(good, visit, /*first_position=*/8 + header_bytes, /*stride=*/61);
  fs::remove_all(dir);
  EXPECT_TRUE(findings.empty()) << findings.report();
  EXPECT_GE(refused, good.size()) << refused << " of " << copies << " refused";  // every cut, at least
}

}  // namespace
}  // namespace cxr
