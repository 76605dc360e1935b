// A run folder written by `cxrnet train`, read back for `evaluate` and `predict`: the resolved
// config (config.yaml), the split manifest (split.csv: which file went where, and the class
// names), and the model rebuilt from the config with the run's weights loaded strictly by name.
#pragma once
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/experiment_config.h"
#include "data/directory.h"
#include "data/loader.h"
#include "engine/device.h"
#include "layers/model.h"

namespace cxr {

struct ManifestRow {
  std::string path, label, split;  // label: the class folder name; split: train | validation | test
};

struct RunFolder {
  std::filesystem::path dir;
  ExperimentConfig config;               // RUN/config.yaml
  std::vector<ManifestRow> manifest;     // RUN/split.csv
  std::vector<std::string> class_names;  // the manifest's labels, sorted: NORMAL = 0, PNEUMONIA = 1
};

// Reads RUN/config.yaml and RUN/split.csv. InputError (ConfigError for the YAML) naming the file
// when RUN is not a run folder or a file is damaged.
RunFolder open_run_folder(const std::string& dir);

// split.csv's text as rows (CSV quoting as split_manifest writes it). `name` is for messages.
std::vector<ManifestRow> parse_split_manifest(const std::string& text, const std::string& name);

// The model section without the weights it would load while building (model.weights:, a layer's
// weights:): for a model whose every parameter then comes from a run's own file (weights or
// checkpoint), so that a pretrained file named there (ImageNet's ResNet) need not be present.
SpecNode without_pretrained_weights(const SpecNode& model);

// The files of one split as split.csv lists them, in its order, labelled by run.class_names.
data::DatasetIndex manifest_split(const RunFolder& run, const std::string& split);

// The device a name (cpu, cuda, cuda:N) gives; InputError when it is a GPU and this machine has none.
Device available_device(const std::string& name);

// The device the command runs on: the config's unless `device` overrides it; `kernels` (custom |
// vendor) overrides train.kernels. Both are written into `config`. InputError when CUDA is asked
// for and absent.
Device select_device(ExperimentConfig& config, const std::string& device, const std::string& kernels);

// RUN/weights.safetensors unless `weights_path` names another file. An unfinished run (checkpoints,
// no weights.safetensors) is an InputError that says how to finish it or use a checkpoint.
std::string run_weights_path(const RunFolder& run, const std::string& weights_path);

// The run's model with `weights_path` loaded into every parameter, strictly by name
// (layers/weights.h: a missing, extra or differently shaped tensor is an InputError naming it),
// then moved to `device`. The file must be cxrnet's: weights (cxrnet-weights-v1), or a checkpoint
// (cxrnet-checkpoint-v1, whose optimizer state is not read). Weights the config loads while
// building (`weights:` of the model or of a ResNet50V2 layer) are not read: the run's file replaces
// every parameter anyway.
Model load_run_model(const RunFolder& run, const std::string& weights_path, Device device);

// The files a command evaluates: the run's test and validation splits.
struct RunSplitFiles {
  data::DatasetIndex test, validation;
  bool has_validation = false;
  std::string source;     // "RUN/split.csv", or the data folder they were resolved from
  std::string mismatch;   // non-empty: how the data folder's splits differ from split.csv
};

// Without `data_dir`, the files split.csv lists. With it, resolve_splits(config.data, data_dir),
// checked against split.csv: the same files in the same order (compared relative to their data
// folder, so a moved copy of the data matches). A difference is an InputError naming the first
// differing file, unless `allow_other_files`, when it is returned in `mismatch`.
RunSplitFiles run_split_files(const RunFolder& run, const std::string& data_dir, bool allow_other_files);

// Decodes and resizes the files as the config's validation and test generators do (decode,
// interpolation, size; rescaling happens when batches are filled). Unreadable files are left out
// and listed in `skipped`.
data::LoadedImages load_inference_images(const data::DatasetIndex& index, const DataConfig& config);

}  // namespace cxr
