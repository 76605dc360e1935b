// Resolves an experiment's data section against --data DIR into decoded, resized images for the
// train, validation and test splits (apps/ joins data/ and the config; data/ knows no config).
#pragma once
#include <iosfwd>
#include <string>

#include "apps/experiment_config.h"
#include "data/loader.h"

namespace cxr {

struct Datasets {
  std::vector<std::string> class_names;  // sorted class folders: NORMAL=0, PNEUMONIA=1
  data::LoadedImages train, validation, test;
  bool has_validation = false;
};

// Splits carved from train (`split_from: train`) are taken before anything else is read: first
// test, then validation from what remains. Bad files are reported on `log` by path and reason and
// left out. Throws InputError for a missing folder or a class set that differs between splits.
Datasets load_datasets(const DataConfig& config, const std::string& data_dir, std::ostream& log);

}  // namespace cxr
