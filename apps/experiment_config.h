// An experiment file (configs/*.yaml): where the data is and how it is read, the model section
// (kept as written for the layer registry), and the training settings. Loading is strict: an
// unknown key or a value out of range is a ConfigError naming the file, line and column.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "layers/spec.h"

namespace cxr {

// Keras ImageDataGenerator's settings of the same names; shifts are fractions of the size. All off
// by default: rotation_range (degrees), horizontal_flip, brightness_range ([min, max] factors;
// both 0 = off) and contrast_range (a factor in [1 - r, 1 + r], as Keras's RandomContrast).
struct AugmentConfig {
  double zoom_range = 0, width_shift_range = 0, height_shift_range = 0;
  double rotation_range = 0;
  bool horizontal_flip = false;
  double brightness_min = 0, brightness_max = 0;
  double contrast_range = 0;
  bool operator==(const AugmentConfig&) const = default;
};

// A split is either a folder (`validation: validate`) or a random part of another split
// (`validation: {split_from: train, fraction: 0.3, seed: 42}`). Both empty: no such split.
struct SplitConfig {
  std::string dir;         // a folder relative to --data, or empty when split_from is used
  std::string split_from;  // e.g. "train"
  double fraction = 0;     // in (0, 1) when split_from is set
  std::uint64_t seed = 42;
  bool defined() const { return !dir.empty() || !split_from.empty(); }
  static SplitConfig folder(std::string dir) {
    SplitConfig split;
    split.dir = std::move(dir);
    return split;
  }
  bool operator==(const SplitConfig&) const = default;
};

// Whether two folder names from a config name the same folder below --data: `train`, `train/` and
// `./train` do (split_from is checked against data.train this way).
bool same_folder_name(const std::string& a, const std::string& b);

struct DataConfig {
  std::string train = "train";
  SplitConfig validation;  // absent in the file: no validation
  SplitConfig test = SplitConfig::folder("test");
  int image_height = 0, image_width = 0;  // `image_size: 50` or `[height, width]`
  std::string color_mode = "rgb";         // rgb | grayscale
  double rescale = 1.0;
  std::string interpolation = "nearest";  // nearest | bilinear | area (resize on load, Pillow's)
  std::string decode = "exact";           // exact (Keras's pixels) | fast (TurboJPEG DCT scaling)
  bool strict = false;                    // an unreadable file fails the run instead of being skipped
  AugmentConfig augment;
  int batch_size = 32;
  bool shuffle = false;
  bool operator==(const DataConfig&) const = default;
};

struct OptimizerConfig {
  std::string type = "Adam";  // Adam | SGD (SGD uses only learning_rate)
  double learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  bool operator==(const OptimizerConfig&) const = default;
};

// Which epoch-end metric a callback watches: loss, binary_accuracy, val_loss or
// val_binary_accuracy (val_accuracy is read as the latter). mode min | max | auto, as Keras: auto
// is max for an accuracy ('acc' in the name), else min.
// `checkpoint:` picks what makes checkpoints/best.safetensors (Keras's ModelCheckpoint with
// save_best_only): an epoch is best when its value beats every earlier one.
struct CheckpointConfig {
  std::string monitor = "val_loss";
  std::string mode = "auto";
  bool operator==(const CheckpointConfig&) const = default;
};

// Keras's EarlyStopping (absent: off). Stops when `patience` epochs in a row fail to improve the
// best value by more than min_delta (never after the first epoch); restore_best_weights makes the
// run end (stopped or not) with the best epoch's weights instead of the last, as Keras 3 does.
struct EarlyStoppingConfig {
  bool enabled = false;
  std::string monitor = "val_loss";
  std::string mode = "auto";
  int patience = 0;
  double min_delta = 0;
  bool restore_best_weights = false;
  bool operator==(const EarlyStoppingConfig&) const = default;
};

// The learning rate per epoch (apps/training_callbacks.h has the formulas). type "" (absent): the
// optimizer's learning_rate throughout; reduce_on_plateau: Keras's ReduceLROnPlateau (monitor,
// mode, factor, patience, min_delta, min_lr, cooldown); cosine: linear warm-up over warmup_epochs,
// then a cosine decay to min_lr (min_lr, warmup_epochs).
struct LrScheduleConfig {
  std::string type;
  std::string monitor = "val_loss";
  std::string mode = "auto";
  double factor = 0.1;
  int patience = 10;
  double min_delta = 1e-4;
  double min_lr = 0;
  int cooldown = 0;
  int warmup_epochs = 0;
  bool operator==(const LrScheduleConfig&) const = default;
};

// Keras's model.fit(class_weight=...): each training sample's loss is multiplied by its class's
// weight (validation and test are not weighted). mode "" (absent): none; balanced: scikit-learn's
// rule, n_samples / (n_classes * n_samples of the class), counted on the training split; map: a
// weight per class folder, e.g. {NORMAL: 1.9, PNEUMONIA: 0.67}. The folder names are checked when
// training starts (apps/class_weights.h): `node` keeps the map's place in the file for that error.
struct ClassWeightConfig {
  std::string mode;
  std::vector<std::pair<std::string, double>> weights;  // map: (class folder, weight), in file order
  SpecNode node;
  bool operator==(const ClassWeightConfig& other) const { return mode == other.mode && weights == other.weights; }
};

struct TrainConfig {
  OptimizerConfig optimizer;
  std::string loss = "binary_crossentropy";
  std::vector<std::string> metrics{"binary_accuracy"};
  int epochs = 1;
  std::uint64_t seed = 42;
  std::string device = "cpu";  // cpu | cuda | cuda:N
  std::string kernels;         // custom | vendor on CUDA (engine/kernel_choice.h); empty: the default, custom
  CheckpointConfig checkpoint;
  EarlyStoppingConfig early_stopping;
  LrScheduleConfig lr_schedule;
  ClassWeightConfig class_weight;
  bool operator==(const TrainConfig&) const = default;
};

struct ExperimentConfig {
  std::string name;         // names the run folder: letters, digits, '_', '-', '.'
  std::string source_path;  // the file it was read from
  DataConfig data;
  SpecNode model;  // has `input` (3 ints, HWC) and `layers` (a list); the layer registry reads it
  TrainConfig train;
};

ExperimentConfig load_experiment_config(const std::string& path);
ExperimentConfig parse_experiment_config(const SpecNode& root);

// The config with every default filled in (the model section emitted as written), saved in the
// run folder. parse_experiment_config(SpecNode::load_string(resolved_yaml(c), ...)) gives c back.
std::string resolved_yaml(const ExperimentConfig& config);

}  // namespace cxr
