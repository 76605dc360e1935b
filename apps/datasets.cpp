#include "apps/datasets.h"

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <sstream>

#include "apps/text_file.h"
#include "data/directory.h"
#include "engine/error.h"

namespace cxr {

namespace {

std::string join_path(const std::string& data_dir, const std::string& sub) {
  return (std::filesystem::path(data_dir) / sub).string();
}

data::DatasetIndex scan(const std::string& dir) {
  try {
    return data::scan_class_directory(dir);
  } catch (const std::exception& e) {
    throw InputError(e.what());
  }
}

data::LoadedImages load(const data::DatasetIndex& index, const DataConfig& config, const std::string& what,
                        const std::string& cache_dir, std::ostream& log) {
  data::LoadOptions options = load_options(config);
  options.cache_dir = cache_dir;
  data::LoadedImages images = data::load_resized(index, config.image_height, config.image_width, options);
  if (!images.cache_problem.empty()) log << "warning: " << images.cache_problem << "\n";
  for (const auto& [path, reason] : images.skipped) log << "skipped " << path << ": " << reason << "\n";
  log << "Found " << images.labels.size() << " images belonging to " << index.class_names.size() << " classes ("
      << what << ")";
  if (!images.skipped.empty()) log << "; " << images.skipped.size() << " unreadable files left out";
  if (!cache_dir.empty()) log << "; " << images.from_cache << " from the cache, " << images.decoded << " decoded";
  log << ".\n";
  return images;
}

std::string names(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& n : list) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

SplitIndices resolve_splits(const DataConfig& config, const std::string& data_dir) {
  SplitIndices out;
  out.train_dir = join_path(data_dir, config.train);
  out.train = scan(out.train_dir);
  CXR_CHECK(out.train.class_names.size() == 2, "binary classification needs exactly 2 class folders in "
                                                   << out.train_dir << ", found " << out.train.class_names.size()
                                                   << ": " << names(out.train.class_names)
                                                   << (out.train.class_names.size() > 2
                                                           ? " (move or rename the extra folder)"
                                                           : " (the other class's folder is missing)"));

  auto take = [&](const SplitConfig& split, const char* what, std::string& dir) -> data::DatasetIndex {
    if (!split.split_from.empty()) {
      CXR_CHECK(same_folder_name(split.split_from, config.train),
                what << ": split_from '" << split.split_from << "' must name the train split '" << config.train << "'");
      auto [rest, carved] = data::split_stratified(out.train, split.fraction, split.seed);
      // A fraction too small or too large for the folder leaves one side empty: a test report of
      // NaNs or a run with nothing to train on, each with exit status 0 before this check.
      CXR_CHECK(!carved.files.empty() && !rest.files.empty(),
                what << ": a fraction of " << split.fraction << " of the " << out.train.files.size() << " images in "
                     << out.train_dir << " leaves " << (carved.files.empty() ? std::string(what) : "training")
                     << " with no images");
      // Each class is carved on its own, rounded: a class too small for the fraction leaves one side
      // without it, which the check of each split's classes would then blame on unreadable files.
      for (size_t k = 0; k < out.train.class_names.size(); ++k) {
        const auto in = [&](const data::DatasetIndex& index) {
          return std::count(index.labels.begin(), index.labels.end(), static_cast<int>(k));
        };
        const int64_t kept = in(rest), taken = in(carved);
        const std::string& name = out.train.class_names[k];
        if (kept + taken == 0) continue;  // an empty class folder: named when the images are loaded
        CXR_CHECK(kept > 0 && taken > 0,
                  what << ": a fraction of " << split.fraction << " of the " << kept + taken << " " << name
                       << " images in " << out.train_dir << " leaves " << (taken == 0 ? std::string(what) : "training")
                       << " with no " << name << " image (each class is split on its own, rounded)");
      }
      out.train = rest;
      dir = out.train_dir;
      return carved;
    }
    dir = join_path(data_dir, split.dir);
    CXR_CHECK(std::filesystem::is_directory(dir),
              dir << ": no such folder (the " << what << " split; carve it from train with "
                  << (std::string(what) == "test" ? "--test-from-train 0.2" : "validation: {split_from: train, fraction: 0.3}")
                  << " instead)");
    data::DatasetIndex index = scan(dir);
    CXR_CHECK(index.class_names == out.train.class_names, what << " folder " << dir << " has other classes ("
                                                               << names(index.class_names) << ") than "
                                                               << out.train_dir << " (" << names(out.train.class_names)
                                                               << ")");
    return index;
  };
  CXR_CHECK(config.test.defined(), "the config's data section has no test split (data.test is ~ or missing): give "
                                   "test: FOLDER, test: {split_from: train, fraction: F}, or --test-from-train F");
  out.test = take(config.test, "test", out.test_dir);
  if (config.validation.defined()) {
    out.validation = take(config.validation, "validation", out.validation_dir);
    out.has_validation = true;
  }
  return out;
}

data::LoadOptions load_options(const DataConfig& config) {
  data::LoadOptions options;
  options.interpolation = data::parse_interpolation(config.interpolation);
  options.fast_decode = config.decode == "fast";
  options.channels = config.color_mode == "grayscale" ? 1 : 3;
  return options;
}

std::vector<std::string> folders_read(const DataConfig& config, const std::string& data_dir) {
  std::vector<std::string> folders{join_path(data_dir, config.train)};
  for (const SplitConfig* split : {&config.validation, &config.test})
    if (!split->dir.empty()) folders.push_back(join_path(data_dir, split->dir));
  return folders;
}

void check_out_of_data(const std::filesystem::path& out, const DataConfig& config, const std::string& data_dir,
                       const std::string& flag) {
  check_out_of_image_folders(out, folders_read(config, data_dir), flag, "this run reads");
}

void check_out_of_image_folders(const std::filesystem::path& out, const std::vector<std::string>& folders,
                                const std::string& flag, const std::string& reader) {
  for (const std::string& folder : folders)
    CXR_CHECK(!is_within(out, folder), flag << " " << out.string() << " is inside " << folder << ", which " << reader
                                            << " images from: its plots (PNG) would be read as images by the next "
                                               "run; pick a folder outside it");
}

std::string split_manifest(const SplitIndices& splits) {
  std::ostringstream csv;
  csv << "path,label,split\n";
  auto rows = [&](const data::DatasetIndex& index, const char* split) {
    for (size_t i = 0; i < index.files.size(); ++i)
      csv << csv_field(index.files[i]) << "," << csv_field(index.class_names[static_cast<size_t>(index.labels[i])])
          << "," << split << "\n";
  };
  rows(splits.train, "train");
  if (splits.has_validation) rows(splits.validation, "validation");
  rows(splits.test, "test");
  return csv.str();
}

Datasets load_datasets(const DataConfig& config, const std::string& data_dir, std::ostream& log,
                       const std::string& cache_dir) {
  Datasets out;
  out.splits = resolve_splits(config, data_dir);
  out.has_validation = out.splits.has_validation;
  out.class_names = out.splits.train.class_names;
  out.train = load(out.splits.train, config, "train", cache_dir, log);
  if (out.has_validation) out.validation = load(out.splits.validation, config, "validation", cache_dir, log);
  out.test = load(out.splits.test, config, "test", cache_dir, log);

  out.skipped = out.train.skipped.size() + out.validation.skipped.size() + out.test.skipped.size();
  if (out.skipped > 0) {
    log << "Skipped " << out.skipped << " unreadable file" << (out.skipped == 1 ? "" : "s") << " in all (train "
        << out.train.skipped.size();
    if (out.has_validation) log << ", validation " << out.validation.skipped.size();
    log << ", test " << out.test.skipped.size() << ")" << (config.strict ? "." : "; --strict makes this an error.")
        << "\n";
  }
  CXR_CHECK(!config.strict || out.skipped == 0,
            "strict: " << out.skipped << " unreadable file" << (out.skipped == 1 ? "" : "s") << " (listed above)");
  // A class with no readable files (none, or all BMPs, say) would train a one-class model, validate on
  // nothing (then fail at the end for want of a best epoch), or report NaN on the test set with exit 0:
  // refused before any epoch, naming the split and the folder.
  const auto require_every_class = [&](const std::vector<int>& labels, const char* what, const std::string& dir) {
    CXR_CHECK(!labels.empty(), "no readable " << what << " images in " << dir);
    for (size_t k = 0; k < out.class_names.size(); ++k)
      CXR_CHECK(std::count(labels.begin(), labels.end(), static_cast<int>(k)) > 0,
                "no readable " << what << " images of class " << out.class_names[k] << " in " << dir
                               << " (no files, or all unreadable: listed above)");
  };
  require_every_class(out.train.labels, "training", out.splits.train_dir);
  if (out.has_validation) require_every_class(out.validation.labels, "validation", out.splits.validation_dir);
  require_every_class(out.test.labels, "test", out.splits.test_dir);
  return out;
}

}  // namespace cxr
