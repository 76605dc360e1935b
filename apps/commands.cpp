#include "apps/commands.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/datasets.h"
#include "apps/experiment_config.h"
#include "apps/interrupt.h"
#include "apps/model_summary.h"
#include "apps/run_training.h"
#include "apps/text_file.h"
#include "data/synth.h"
#include "engine/error.h"

namespace cxr {

namespace fs = std::filesystem;

int command_summary(const std::string& config_path, std::ostream& out) {
  const ExperimentConfig config = load_experiment_config(config_path);
  const Model model = build_model(config.model, config.train.seed);
  out << model_summary(model);
  return 0;
}

int command_synth(const std::string& out_dir, uint64_t seed, std::ostream& out, bool small) {
  const bool unfinished = fs::exists(fs::path(out_dir) / data::kUnfinishedSynthFolder);  // a killed synth's
  const ClaimedFolder claimed =  // held until the images are written
      claim_new_folder(out_dir, false, "--out",
                       unfinished ? "(it holds the unfinished set of a cxrnet synth that was killed: delete it)"
                                  : "(cxrnet synth never mixes its images into other files)");
  data::SynthOptions options = data::SynthOptions::realistic(out_dir, seed);
  if (small) {
    options = data::SynthOptions{};
    options.out_dir = out_dir;
    options.seed = seed;
  }
  const InterruptGuard interrupts;  // Ctrl-C stops between two images, and the set is removed
  options.before_each_image = [&] { interrupts.check(); };
  try {
    data::write_synthetic_dataset(options);
  } catch (const Interrupted& e) {
    remove_claimed_output(claimed);
    throw Interrupted(std::string(e.what()) + ": " + out_dir + " removed", e.signal);
  } catch (...) {
    remove_claimed_output(claimed);  // a half-written set (a full disk, say)
    throw;
  }
  out << "wrote a synthetic chest X-ray dataset to " << out_dir << " (train/ and test/, NORMAL and PNEUMONIA)\n";
  return 0;
}

int command_train(const TrainOptions& options, std::ostream& out, std::ostream& log) {
  run_training(options, out, log);
  return 0;
}

namespace {

// Links (or copies) one file to `to`. A hard link is impossible across file systems (and on some
// mounts): then it is copied, and `copied` says so.
void materialise(const fs::path& from, const fs::path& to, bool copy, bool& copied) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (ec) throw InputError("cannot create folder " + to.parent_path().string() + ": " + ec.message());
  if (!copy) {
    fs::create_hard_link(from, to, ec);
    if (!ec) return;
    copied = true;
  }
  fs::copy_file(from, to, ec);
  if (ec) throw InputError("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
}

// Every file a split lists must be a regular file (links to one are fine): a FIFO, device or socket
// named like an image would block a copy, or be linked into the new folder as a dataset file nobody
// can read. Checked before the output folder is claimed.
void check_regular_files(const SplitIndices& splits, const std::string& data_dir) {
  for (const data::DatasetIndex* index : {&splits.train, &splits.validation, &splits.test})
    for (const std::string& file : index->files) {
      std::error_code ec;
      const fs::file_status status = fs::status(file, ec);
      CXR_CHECK(!ec && fs::is_regular_file(status),
                file << ": " << (ec ? ec.message() : "not a regular file (a FIFO, device or socket named like an image)")
                     << "; cxrnet split links or copies image files only: move it out of " << data_dir);
    }
}

}  // namespace

int command_split(const SplitOptions& options, std::ostream& out) {
  ExperimentConfig config = load_experiment_config(options.config_path);
  if (options.test_from_train) {
    CXR_CHECK(*options.test_from_train > 0 && *options.test_from_train < 1, "--test-from-train must be in (0, 1)");
    config.data.test = SplitConfig{.dir = "", .split_from = config.data.train, .fraction = *options.test_from_train,
                                   .seed = config.train.seed};
  }
  const SplitIndices splits = resolve_splits(config.data, options.data_dir);
  const fs::path root(options.out_dir);
  // Files linked into a folder split reads would be scanned again as that folder's images, in the wrong class.
  for (const std::string& read : {splits.train_dir, splits.validation_dir, splits.test_dir})
    CXR_CHECK(read.empty() || !is_within(root, read),
              "--out " << root.string() << " is inside " << read << ", which split reads: its class folders "
                       << "would then hold the split's files too; pick an --out outside it");
  check_regular_files(splits, options.data_dir);
  const ClaimedFolder claimed = claim_new_folder(root, false, "--out", "(cxrnet split never overwrites)");

  bool copied = false;
  size_t files = 0;
  const InterruptGuard interrupts;  // Ctrl-C stops between two files, and the split is removed
  auto write = [&](const data::DatasetIndex& index, const std::string& source_dir, const std::string& split) {
    for (size_t i = 0; i < index.files.size(); ++i) {
      if (options.before_each_file) options.before_each_file(files);
      interrupts.check();
      const std::string& class_name = index.class_names[static_cast<size_t>(index.labels[i])];
      // Keep the path below the class folder, so files in subfolders cannot collide.
      const fs::path inside = fs::path(index.files[i]).lexically_relative(fs::path(source_dir) / class_name);
      materialise(index.files[i], root / split / class_name / inside, options.copy, copied);
      ++files;
    }
  };
  try {
    write(splits.train, splits.train_dir, "train");
    if (splits.has_validation) write(splits.validation, splits.validation_dir, "validation");
    write(splits.test, splits.test_dir, "test");
    write_text_file(root / "split.csv", split_manifest(splits));
  } catch (const Interrupted& e) {
    remove_claimed_output(claimed);
    throw Interrupted(std::string(e.what()) + ": " + options.out_dir + " removed", e.signal);
  } catch (...) {
    remove_claimed_output(claimed);  // a half-made split (a full disk, say)
    throw;
  }

  out << (options.copy ? "copied " : "linked ") << files << " files into " << options.out_dir << ": train "
      << splits.train.files.size();
  if (splits.has_validation) out << ", validation " << splits.validation.files.size();
  out << ", test " << splits.test.files.size() << " (split.csv lists them)\n";
  if (!options.copy && copied) out << "note: some files were copied because hard links were impossible there\n";
  return 0;
}

}  // namespace cxr
