// `cxrnet predict --run RUN PATH...`: a trained run's probabilities for new images, as CSV.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <optional>
#include <ostream>
#include <sstream>

#include "apps/commands.h"
#include "apps/metrics.h"
#include "apps/run_folder.h"
#include "apps/test_report.h"
#include "apps/text_file.h"
#include "apps/trainer.h"
#include "data/directory.h"
#include "engine/error.h"

namespace cxr {

namespace fs = std::filesystem;

namespace {

// Images decoded at once: bounds memory (a chunk of 224x224 images is 150 MB), while the model
// still sees full batches.
constexpr size_t kChunk = 1024;


// A file argument is taken as it is (the decoder judges it); a folder gives its images below it,
// hidden entries left out as in the class folders, sorted by path.
std::vector<std::string> collect_images(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    CXR_CHECK(fs::exists(st) || fs::is_symlink(fs::symlink_status(path, ec)), path << ": no such file or folder");
    if (!fs::is_directory(st)) {  // a file, a FIFO or a device: reading it names what it is
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    fs::path last = path;  // the walk fails entering the folder it has just listed
    fs::recursive_directory_iterator it(path, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      last = it->path();
      if (it->path().filename().string().starts_with('.')) {
        it.disable_recursion_pending();
        continue;
      }
      // Anything but a folder is listed (a dangling link, a FIFO, a device named like an image), so
      // that reading it fails with its name, or is counted by --skip-unreadable, rather than the walk
      // dropping it silently, as the class folders' scan does (data/directory.cpp).
      std::error_code entry_ec;
      if (!it->is_directory(entry_ec) && data::has_image_extension(it->path().filename().string()))
        found.push_back(it->path().string());
    }
    CXR_CHECK(!ec, last.string() << ": cannot read this folder (" << ec.message() << ")");
    CXR_CHECK(!found.empty(), path << ": no images (" << data::image_extensions() << ") in this folder");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// The test report's operating point: the threshold that reaches its target sensitivity on the
// run's validation split.
float validation_threshold(const RunFolder& run, const PredictOptions& options, Trainer& trainer, std::ostream& log) {
  CXR_CHECK(run.config.data.validation.defined(),
            run.dir.string() << ": the run has no validation split to choose a threshold on; give --threshold T");
  const RunSplitFiles files = run_split_files(run, options.data_dir, false);
  const data::LoadedImages images = load_inference_images(files.validation, run.config.data);
  for (const auto& [path, reason] : images.skipped) log << "skipped " << path << ": " << reason << "\n";
  CXR_CHECK(images.size() > 0, "no readable validation images (" << files.source << ")");
  const Evaluation v = trainer.evaluate(images);
  const double target = TestReportOptions{}.target_sensitivity;
  const float t = report::threshold_for_sensitivity(v.probabilities, v.labels, target);
  log << "threshold " << t << ": chosen on " << images.size() << " validation images for sensitivity >= " << target
      << ", as the test report\n";
  return t;
}

// --out replaces only an earlier predictions CSV (its first line path,probability,label): never a
// run's weights or config, an image, or any other file, which the CSV had replaced with exit 0.
void check_out_replaces_only_predictions(const fs::path& out) {
  std::error_code ec;
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  if (!fs::is_directory(parent, ec))  // found only after all the inference, once
    throw InputError("--out " + out.string() + ": no folder " + parent.string());
  const fs::file_status st = fs::status(out, ec);  // through a link
  if (!fs::exists(st)) return;
  const auto refuse = [&](const std::string& why) {
    throw InputError("--out " + out.string() + " " + why + ": predict replaces only its own earlier output; "
                     "give another --out");
  };
  if (!fs::is_regular_file(st)) refuse("exists and is not a regular file");
  std::ifstream in(out, std::ios::binary);
  std::string first;
  std::getline(in, first);
  if (first != "path,probability,label") refuse("exists and is not a predictions CSV (path,probability,label)");
}

}  // namespace

int command_predict(const PredictOptions& options, std::ostream& out, std::ostream& log) {
  CXR_CHECK(!(options.threshold && options.threshold_from_validation),
            "give --threshold or --threshold-from-validation, not both");
  CXR_CHECK(!options.threshold || (*options.threshold >= 0 && *options.threshold <= 1),
            "--threshold must be in [0, 1], got " << *options.threshold);
  CXR_CHECK(!options.paths.empty(), "give at least one image file or folder");
  RunFolder run = open_run_folder(options.run_dir);
  const std::vector<std::string> files = collect_images(options.paths);
  const std::string weights = run_weights_path(run, options.weights_path);
  // No --out, or `--out -` (the usual spelling), writes the CSV to standard output.
  const bool to_file = !options.out_csv.empty() && options.out_csv != "-";
  if (to_file) check_out_replaces_only_predictions(options.out_csv);  // before the work
  const Device device = select_device(run.config, options.device, options.kernels);
  Model model = load_run_model(run, weights, device);
  Trainer trainer(model, run.config);
  const float threshold = options.threshold_from_validation ? validation_threshold(run, options, trainer, log)
                                                            : static_cast<float>(options.threshold.value_or(0.5));

  std::vector<std::optional<float>> probability(files.size());
  std::vector<std::pair<std::string, std::string>> unreadable;
  for (size_t begin = 0; begin < files.size(); begin += kChunk) {
    const size_t end = std::min(files.size(), begin + kChunk);
    data::DatasetIndex index;
    index.class_names = run.class_names;
    index.files.assign(files.begin() + static_cast<std::ptrdiff_t>(begin), files.begin() + static_cast<std::ptrdiff_t>(end));
    index.labels.assign(end - begin, 0);  // unknown; only the probabilities are used
    const data::LoadedImages images = load_inference_images(index, run.config.data);
    unreadable.insert(unreadable.end(), images.skipped.begin(), images.skipped.end());
    if (images.size() == 0) continue;
    const Evaluation e = trainer.evaluate(images);
    // The kept images are the index's files in order, without the unreadable ones.
    size_t k = 0;
    for (size_t i = begin; i < end && k < images.files.size(); ++i)
      if (files[i] == images.files[k]) probability[i] = e.probabilities[k++];
    CXR_ASSERT(k == images.files.size(), "predict: kept images out of order");
  }
  for (const auto& [path, reason] : unreadable) log << "unreadable " << path << ": " << reason << "\n";
  CXR_CHECK(unreadable.empty() || options.skip_unreadable,
            unreadable.front().first << ": " << unreadable.front().second
                                     << (unreadable.size() > 1 ? " (and " + std::to_string(unreadable.size() - 1) +
                                                                     " more unreadable images, listed above)"
                                                               : std::string())
                                     << "; --skip-unreadable writes them as rows without a probability");

  std::ostringstream csv;
  csv << "path,probability,label\n" << std::setprecision(9);
  for (size_t i = 0; i < files.size(); ++i) {
    csv << csv_field(files[i]) << ",";
    if (probability[i]) csv << *probability[i] << "," << csv_field(run.class_names[*probability[i] > threshold ? 1 : 0]);
    else csv << ",unreadable";
    csv << "\n";
  }
  if (!to_file) {
    out << csv.str() << std::flush;  // a full disk or a closed pipe is an error, not a lost CSV and exit 0
    CXR_CHECK(out, "cannot write the predictions to standard output (disk full, or the reader closed it?)");
  } else {
    write_text_file(options.out_csv, csv.str());
  }
  const size_t predicted = files.size() - unreadable.size();
  log << "predicted " << predicted << (predicted == 1 ? " image" : " images") << " with " << run.dir.string() << " (threshold "
      << threshold << ", label " << run.class_names[1] << " above it)";
  if (!unreadable.empty()) log << "; " << unreadable.size() << " unreadable";
  if (to_file) log << "; wrote " << options.out_csv;
  log << "\n";
  return 0;
}

}  // namespace cxr
