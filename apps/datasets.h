// Resolves an experiment's data section against --data DIR into decoded, resized images for the
// train, validation and test splits (apps/ joins data/ and the config; data/ knows no config).
#pragma once
#include <filesystem>
#include <vector>
#include <iosfwd>
#include <string>

#include "apps/experiment_config.h"
#include "data/directory.h"
#include "data/loader.h"

namespace cxr {

// The files of each split, before anything is decoded: what the manifest lists and `cxrnet split`
// materialises. *_dir is the folder each split's class folders were found in.
struct SplitIndices {
  data::DatasetIndex train, validation, test;
  std::string train_dir, validation_dir, test_dir;
  bool has_validation = false;
};

// Splits carved from train (`split_from: train`) are taken before anything else is read: first
// test, then validation from what remains (stratified, from the split's seed: the same config
// always gives the same files). Throws InputError for a missing folder, a class set that differs
// between splits, or a class count other than 2 (naming the class folders found).
SplitIndices resolve_splits(const DataConfig& config, const std::string& data_dir);

// How the config's data section loads images: interpolation, decode mode and colour mode (the cache
// folder is the caller's).
data::LoadOptions load_options(const DataConfig& config);

// The folders a run reads images from (train, and validation and test when they are folders), without
// scanning them: what an output folder must not lie inside.
std::vector<std::string> folders_read(const DataConfig& config, const std::string& data_dir);

// InputError when `out` is inside one of folders_read(): a run's plots (PNG) there would be read as
// images by the next run on that data. `flag` names the option that gave `out`.
void check_out_of_data(const std::filesystem::path& out, const DataConfig& config, const std::string& data_dir,
                       const std::string& flag);
// The same for any image folders: `reader` says who reads them ("this run reads", "the run read").
void check_out_of_image_folders(const std::filesystem::path& out, const std::vector<std::string>& folders,
                                const std::string& flag, const std::string& reader);

// The manifest (split.csv): "path,label,split", then one row per file: train, validation, test,
// each in Keras's file order; label is the class folder name. Commas or quotes in a path are
// quoted as CSV does.
std::string split_manifest(const SplitIndices& splits);

struct Datasets {
  std::vector<std::string> class_names;  // sorted class folders: NORMAL=0, PNEUMONIA=1
  data::LoadedImages train, validation, test;
  bool has_validation = false;
  SplitIndices splits;
  size_t skipped = 0;  // unreadable files left out, all splits together
};

// Loads every split (decoding as config.decode and config.interpolation say, through an image
// cache in cache_dir when it is not empty). Each bad file is reported once on `log` by path and
// reason and left out, then one line counts them; with config.strict any bad file is an InputError.
Datasets load_datasets(const DataConfig& config, const std::string& data_dir, std::ostream& log,
                       const std::string& cache_dir = "");

}  // namespace cxr
