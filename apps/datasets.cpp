#include "apps/datasets.h"

#include <filesystem>
#include <ostream>

#include "data/directory.h"
#include "engine/error.h"

namespace cxr {

namespace {

data::DatasetIndex scan(const std::string& data_dir, const std::string& sub) {
  const std::string dir = (std::filesystem::path(data_dir) / sub).string();
  try {
    return data::scan_class_directory(dir);
  } catch (const std::exception& e) {
    throw InputError(e.what());
  }
}

data::LoadedImages load(const data::DatasetIndex& index, const DataConfig& config, const std::string& what,
                        std::ostream& log) {
  data::LoadedImages images = data::load_resized(index, config.image_height, config.image_width, 0);
  for (const auto& [path, reason] : images.skipped) log << "skipped " << path << ": " << reason << "\n";
  log << "Found " << images.labels.size() << " images belonging to " << index.class_names.size() << " classes ("
      << what << ")";
  if (!images.skipped.empty()) log << "; " << images.skipped.size() << " unreadable files left out";
  log << ".\n";
  return images;
}

}  // namespace

Datasets load_datasets(const DataConfig& config, const std::string& data_dir, std::ostream& log) {
  data::DatasetIndex train = scan(data_dir, config.train);
  data::DatasetIndex test, validation;
  Datasets out;

  auto take = [&](const SplitConfig& split, const char* what) -> data::DatasetIndex {
    if (!split.split_from.empty()) {
      CXR_CHECK(split.split_from == config.train,
                what << ": split_from '" << split.split_from << "' must name the train split '" << config.train << "'");
      auto [rest, carved] = data::split_stratified(train, split.fraction, split.seed);
      train = rest;
      return carved;
    }
    data::DatasetIndex index = scan(data_dir, split.dir);
    CXR_CHECK(index.class_names == train.class_names,
              what << " folder " << split.dir << " has other classes than " << config.train);
    return index;
  };
  CXR_CHECK(config.test.defined(), "the data section needs a test split");
  test = take(config.test, "test");
  if (config.validation.defined()) {
    validation = take(config.validation, "validation");
    out.has_validation = true;
  }
  CXR_CHECK(train.class_names.size() == 2, "binary classification needs exactly 2 class folders in "
                                               << data_dir << "/" << config.train << ", found "
                                               << train.class_names.size());
  out.class_names = train.class_names;
  out.train = load(train, config, "train", log);
  if (out.has_validation) out.validation = load(validation, config, "validation", log);
  out.test = load(test, config, "test", log);
  CXR_CHECK(!out.train.labels.empty(), "no readable training images in " << data_dir << "/" << config.train);
  return out;
}

}  // namespace cxr
