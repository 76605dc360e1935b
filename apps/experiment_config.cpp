#include "apps/experiment_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>

namespace cxr {

bool same_folder_name(const std::string& a, const std::string& b) {
  const auto normal = [](const std::string& name) {
    std::filesystem::path p = std::filesystem::path(name).lexically_normal();
    return p.has_filename() ? p : p.parent_path();  // "train/" -> "train"
  };
  return normal(a) == normal(b);
}

namespace {

const std::vector<std::string> kTopKeys = {"name", "data", "model", "train"};
const std::vector<std::string> kDataKeys = {"train",   "validation",    "test",    "image_size", "color_mode",
                                            "rescale", "interpolation", "augment", "batch_size", "shuffle",
                                            "decode",  "strict"};
const std::vector<std::string> kSplitKeys = {"dir", "split_from", "fraction", "seed"};
const std::vector<std::string> kAugmentKeys = {"zoom_range",     "width_shift_range", "height_shift_range",
                                               "rotation_range", "horizontal_flip",   "brightness_range",
                                               "contrast_range"};
const std::vector<std::string> kTrainKeys = {"optimizer", "loss",    "metrics",    "epochs",         "seed",
                                             "device",    "kernels", "checkpoint", "early_stopping", "lr_schedule",
                                             "class_weight"};
const std::vector<std::string> kAdamKeys = {"type", "learning_rate", "beta_1", "beta_2", "epsilon"};
const std::vector<std::string> kSgdKeys = {"type", "learning_rate"};
const std::vector<std::string> kCheckpointKeys = {"monitor", "mode"};
const std::vector<std::string> kEarlyStoppingKeys = {"monitor", "mode", "patience", "min_delta", "restore_best_weights"};
const std::vector<std::string> kPlateauKeys = {"type",     "monitor", "mode",   "factor",  "patience",
                                               "min_delta", "min_lr",  "cooldown"};
const std::vector<std::string> kCosineKeys = {"type", "min_lr", "warmup_epochs"};
const std::vector<std::string> kMonitors = {"val_loss", "val_binary_accuracy", "val_accuracy", "loss", "binary_accuracy"};
const std::vector<std::string> kModes = {"auto", "min", "max"};

// Shortest text that reads back as the same double, so resolved_yaml round-trips exactly.
std::string show(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}
std::string show(int value) { return std::to_string(value); }

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : ", ") + word;
  return out;
}

// Fails at the value of `key` (present whenever a value is bad: the defaults are all valid).
template <typename T>
T checked(const SpecNode& map, const std::string& key, T value, bool ok, const std::string& rule) {
  if (!ok) map.child(key).fail(rule + ", got " + show(value));
  return value;
}

void check_choice(const SpecNode& at, const std::string& value, const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
  at.fail("expected one of " + join(choices) + ", got '" + value + "'" + did_you_mean(value, choices));
}

std::string one_of(const SpecNode& map, const std::string& key, const std::string& fallback,
                   const std::vector<std::string>& choices) {
  const std::string value = map.get_string(key, fallback);
  if (map.has(key)) check_choice(map.child(key), value, choices);
  return value;
}

// A split: `test: test`, `validation: {split_from: train, fraction: 0.3, seed: 42}`, or null for
// none. The map may also name a folder: {dir: validate}.
SplitConfig parse_split(const SpecNode& node) {
  SplitConfig split;
  if (node.is_null()) return split;
  if (node.is_scalar()) {
    split.dir = node.as_string();
    // An empty name would read as "no split" (a validation-free run) without a word.
    if (split.dir.empty())
      node.fail("an empty folder name: give a folder, {split_from: ..., fraction: ...}, or ~ for none");
    return split;
  }
  node.check_keys(kSplitKeys);
  if (node.has("dir") == node.has("split_from")) {
    node.fail("give either 'dir' (a folder) or 'split_from' (with 'fraction'), not both or neither");
  }
  if (node.has("dir")) {
    for (const char* key : {"fraction", "seed"}) {
      if (node.has(key)) node.child(key).fail("only goes with 'split_from', not with 'dir'");
    }
    split.dir = node.get_string("dir");
    return split;
  }
  split.split_from = node.get_string("split_from");
  const double fraction = node.get_double("fraction");
  split.fraction = checked(node, "fraction", fraction, fraction > 0 && fraction < 1,
                           "must be between 0 and 1 (exclusive)");
  split.seed = node.get_uint64("seed", split.seed);
  return split;
}

// A split carved from another folder names the train split: only its images are split off.
SplitConfig optional_split(const SpecNode& data, const std::string& key, SplitConfig fallback,
                           const std::string& train) {
  if (!data.has(key)) return fallback;
  const SplitConfig split = parse_split(data.child(key));
  if (!split.split_from.empty() && !same_folder_name(split.split_from, train))
    data.child(key).child("split_from").fail("must name the train split '" + train + "', not '" + split.split_from +
                                             "'");
  return split;
}

AugmentConfig parse_augment(const SpecNode& node) {
  AugmentConfig augment;
  if (node.is_null()) return augment;
  node.check_keys(kAugmentKeys);
  // Keras reads a shift >= 1 as pixels and a zoom >= 1 allows a zero scale: both are refused.
  auto fraction = [&](const std::string& key) {
    const double value = node.get_double(key, 0);
    return checked(node, key, value, value >= 0 && value < 1, "must be in [0, 1)");
  };
  augment.zoom_range = fraction("zoom_range");
  augment.width_shift_range = fraction("width_shift_range");
  augment.height_shift_range = fraction("height_shift_range");
  const double rotation = node.get_double("rotation_range", 0);
  augment.rotation_range = checked(node, "rotation_range", rotation, rotation >= 0 && rotation <= 180, "must be in [0, 180]");
  augment.horizontal_flip = node.get_bool("horizontal_flip", false);
  augment.contrast_range = fraction("contrast_range");
  if (node.has("brightness_range") && !node.child("brightness_range").is_null()) {
    const SpecNode range = node.child("brightness_range");
    const std::vector<SpecNode> items = range.items();
    if (items.size() != 2) range.fail("expected [min, max], e.g. [0.8, 1.2]");
    augment.brightness_min = items[0].as_double();
    augment.brightness_max = items[1].as_double();
    if (!(augment.brightness_min >= 0 && augment.brightness_min <= augment.brightness_max && augment.brightness_max > 0))
      range.fail("needs 0 <= min <= max and max > 0");
  }
  return augment;
}

DataConfig parse_data(const SpecNode& node) {
  DataConfig data;
  node.check_keys(kDataKeys);
  data.train = node.get_string("train", data.train);
  data.validation = optional_split(node, "validation", data.validation, data.train);
  data.test = optional_split(node, "test", data.test, data.train);
  const auto [height, width] = node.get_int_pair("image_size");
  if (height < 1 || width < 1) node.child("image_size").fail("sizes must be at least 1");
  data.image_height = height;
  data.image_width = width;
  data.color_mode = one_of(node, "color_mode", data.color_mode, {"rgb", "grayscale"});
  const double rescale = node.get_double("rescale", data.rescale);
  data.rescale = checked(node, "rescale", rescale, rescale > 0, "must be > 0");
  data.interpolation = one_of(node, "interpolation", data.interpolation, {"nearest", "bilinear", "area"});
  data.decode = one_of(node, "decode", data.decode, {"exact", "fast"});
  data.strict = node.get_bool("strict", data.strict);
  if (node.has("augment")) data.augment = parse_augment(node.child("augment"));
  const int batch = node.get_int("batch_size", data.batch_size);
  data.batch_size = checked(node, "batch_size", batch, batch >= 1, "must be at least 1");
  data.shuffle = node.get_bool("shuffle", data.shuffle);
  return data;
}

OptimizerConfig parse_optimizer(const SpecNode& node) {
  OptimizerConfig optimizer;
  if (node.is_scalar()) {  // `optimizer: Adam`: every setting at its default
    optimizer.type = node.as_string();
    check_choice(node, optimizer.type, {"Adam", "SGD"});
    return optimizer;
  }
  optimizer.type = one_of(node, "type", optimizer.type, {"Adam", "SGD"});
  node.check_keys(optimizer.type == "Adam" ? kAdamKeys : kSgdKeys);
  const double rate = node.get_double("learning_rate", optimizer.learning_rate);
  optimizer.learning_rate = checked(node, "learning_rate", rate, rate > 0, "must be > 0");
  auto beta = [&](const std::string& key, double fallback) {
    const double value = node.get_double(key, fallback);
    return checked(node, key, value, value >= 0 && value < 1, "must be in [0, 1)");
  };
  optimizer.beta_1 = beta("beta_1", optimizer.beta_1);
  optimizer.beta_2 = beta("beta_2", optimizer.beta_2);
  const double epsilon = node.get_double("epsilon", optimizer.epsilon);
  optimizer.epsilon = checked(node, "epsilon", epsilon, epsilon > 0, "must be > 0");
  return optimizer;
}

// The metric a callback watches; val_accuracy (Keras's name for it) is stored as val_binary_accuracy.
std::string parse_monitor(const SpecNode& node, const std::string& fallback) {
  const std::string monitor = one_of(node, "monitor", fallback, kMonitors);
  return monitor == "val_accuracy" ? "val_binary_accuracy" : monitor;
}

int non_negative_int(const SpecNode& node, const std::string& key, int fallback) {
  const int value = node.get_int(key, fallback);
  return checked(node, key, value, value >= 0, "must be at least 0");
}

double non_negative(const SpecNode& node, const std::string& key, double fallback) {
  const double value = node.get_double(key, fallback);
  return checked(node, key, value, value >= 0, "must be >= 0");
}

CheckpointConfig parse_checkpoint(const SpecNode& node) {
  CheckpointConfig checkpoint;
  if (node.is_null()) return checkpoint;
  node.check_keys(kCheckpointKeys);
  checkpoint.monitor = parse_monitor(node, checkpoint.monitor);
  checkpoint.mode = one_of(node, "mode", checkpoint.mode, kModes);
  return checkpoint;
}

EarlyStoppingConfig parse_early_stopping(const SpecNode& node) {
  EarlyStoppingConfig stopping;
  if (node.is_null()) return stopping;  // `early_stopping: ~` is off, as resolved_yaml writes it
  node.check_keys(kEarlyStoppingKeys);
  stopping.enabled = true;
  stopping.monitor = parse_monitor(node, stopping.monitor);
  stopping.mode = one_of(node, "mode", stopping.mode, kModes);
  stopping.patience = non_negative_int(node, "patience", stopping.patience);
  stopping.min_delta = non_negative(node, "min_delta", stopping.min_delta);
  stopping.restore_best_weights = node.get_bool("restore_best_weights", stopping.restore_best_weights);
  return stopping;
}

LrScheduleConfig parse_lr_schedule(const SpecNode& node, double learning_rate) {
  LrScheduleConfig schedule;
  if (node.is_null()) return schedule;
  schedule.type = node.get_string("type");
  check_choice(node.child("type"), schedule.type, {"reduce_on_plateau", "cosine"});
  node.check_keys(schedule.type == "cosine" ? kCosineKeys : kPlateauKeys);
  schedule.min_lr = non_negative(node, "min_lr", schedule.min_lr);
  if (schedule.type == "cosine") {
    schedule.min_lr = checked(node, "min_lr", schedule.min_lr, schedule.min_lr < learning_rate,
                              "must be below the optimizer's learning_rate (" + show(learning_rate) + ")");
    schedule.warmup_epochs = non_negative_int(node, "warmup_epochs", schedule.warmup_epochs);
    return schedule;
  }
  schedule.monitor = parse_monitor(node, schedule.monitor);
  schedule.mode = one_of(node, "mode", schedule.mode, kModes);
  const double factor = node.get_double("factor", schedule.factor);
  schedule.factor = checked(node, "factor", factor, factor > 0 && factor < 1, "must be in (0, 1)");
  schedule.patience = non_negative_int(node, "patience", schedule.patience);
  schedule.min_delta = non_negative(node, "min_delta", schedule.min_delta);
  schedule.cooldown = non_negative_int(node, "cooldown", schedule.cooldown);
  return schedule;
}

// `class_weight: balanced`, or a map from class folder to a weight > 0. The folder names can only
// be checked against the data, when training starts (apps/class_weights.cpp).
ClassWeightConfig parse_class_weight(const SpecNode& node) {
  ClassWeightConfig weights;
  if (node.is_null()) return weights;  // `class_weight: ~` is none, as resolved_yaml writes it
  weights.node = node;
  if (node.is_scalar()) {
    weights.mode = node.as_string();
    check_choice(node, weights.mode, {"balanced"});
    return weights;
  }
  if (!node.is_map() || node.keys().empty())
    node.fail("expected balanced or a weight per class folder, e.g. {NORMAL: 1.9, PNEUMONIA: 0.67}");
  weights.mode = "map";
  for (const std::string& name : node.keys()) {
    const double weight = node.get_double(name);
    checked(node, name, weight, weight > 0 && std::isfinite(weight), "must be a finite number > 0");
    weights.weights.emplace_back(name, weight);
  }
  return weights;
}

bool is_device_name(const std::string& name) {
  if (name == "cpu" || name == "cuda") return true;
  const std::string prefix = "cuda:";
  return name.size() > prefix.size() && name.starts_with(prefix) &&
         name.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

TrainConfig parse_train(const SpecNode& node) {
  TrainConfig train;
  if (node.is_null()) return train;
  node.check_keys(kTrainKeys);
  if (node.has("optimizer")) train.optimizer = parse_optimizer(node.child("optimizer"));
  train.loss = one_of(node, "loss", train.loss, {"binary_crossentropy"});
  if (node.has("metrics")) {
    train.metrics.clear();
    for (const auto& item : node.child("metrics").items()) {
      train.metrics.push_back(item.as_string());
      check_choice(item, train.metrics.back(), {"binary_accuracy"});
    }
  }
  const int epochs = node.get_int("epochs", train.epochs);
  train.epochs = checked(node, "epochs", epochs, epochs >= 1, "must be at least 1");
  train.seed = node.get_uint64("seed", train.seed);
  train.device = node.get_string("device", train.device);
  train.kernels = node.get_string("kernels", train.kernels);
  if (!train.kernels.empty() && train.kernels != "custom" && train.kernels != "vendor")
    node.child("kernels").fail("expected custom or vendor, got '" + train.kernels + "'");
  if (!is_device_name(train.device)) {
    node.child("device").fail("expected cpu, cuda or cuda:N, got '" + train.device + "'");
  }
  if (node.has("checkpoint")) train.checkpoint = parse_checkpoint(node.child("checkpoint"));
  if (node.has("early_stopping")) train.early_stopping = parse_early_stopping(node.child("early_stopping"));
  if (node.has("lr_schedule"))
    train.lr_schedule = parse_lr_schedule(node.child("lr_schedule"), train.optimizer.learning_rate);
  if (node.has("class_weight")) train.class_weight = parse_class_weight(node.child("class_weight"));
  return train;
}

// The layer registry reads the model; here only its frame, and that it fits the data.
void check_model(const SpecNode& model, const DataConfig& data) {
  const SpecNode input = model.child("input");
  const std::vector<int> shape = model.get_int_list("input");
  if (shape.size() != 3) {
    input.fail("expected [height, width, channels], got " + show(int(shape.size())) + " numbers");
  }
  const int channels = data.color_mode == "grayscale" ? 1 : 3;
  if (shape[0] != data.image_height || shape[1] != data.image_width || shape[2] != channels) {
    input.fail("does not match the data: image_size [" + show(data.image_height) + ", " +
               show(data.image_width) + "] with color_mode " + data.color_mode + " gives [" +
               show(data.image_height) + ", " + show(data.image_width) + ", " + show(channels) + "]");
  }
  const SpecNode layers = model.child("layers");
  if (layers.items().empty()) layers.fail("a model needs at least one layer");
}

bool is_run_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-' || c == '.'; });
}

void emit_split(YAML::Emitter& out, const SplitConfig& split) {
  if (!split.defined()) {
    out << YAML::Null;
  } else if (!split.dir.empty()) {
    out << split.dir;
  } else {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "split_from" << YAML::Value << split.split_from
        << YAML::Key << "fraction" << YAML::Value << show(split.fraction) << YAML::Key << "seed"
        << YAML::Value << std::to_string(split.seed) << YAML::EndMap;
  }
}

void emit_data(YAML::Emitter& out, const DataConfig& data) {
  out << YAML::BeginMap;
  out << YAML::Key << "train" << YAML::Value << data.train;
  out << YAML::Key << "validation" << YAML::Value;
  emit_split(out, data.validation);
  out << YAML::Key << "test" << YAML::Value;
  emit_split(out, data.test);
  out << YAML::Key << "image_size" << YAML::Value << YAML::Flow << YAML::BeginSeq << data.image_height
      << data.image_width << YAML::EndSeq;
  out << YAML::Key << "color_mode" << YAML::Value << data.color_mode;
  out << YAML::Key << "rescale" << YAML::Value << show(data.rescale);
  out << YAML::Key << "interpolation" << YAML::Value << data.interpolation;
  out << YAML::Key << "decode" << YAML::Value << data.decode;
  out << YAML::Key << "strict" << YAML::Value << data.strict;
  out << YAML::Key << "augment" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "zoom_range"
      << YAML::Value << show(data.augment.zoom_range) << YAML::Key << "width_shift_range" << YAML::Value
      << show(data.augment.width_shift_range) << YAML::Key << "height_shift_range" << YAML::Value
      << show(data.augment.height_shift_range) << YAML::Key << "rotation_range" << YAML::Value
      << show(data.augment.rotation_range) << YAML::Key << "horizontal_flip" << YAML::Value << data.augment.horizontal_flip
      << YAML::Key << "brightness_range" << YAML::Value;
  if (data.augment.brightness_max > 0) {
    out << YAML::Flow << YAML::BeginSeq << show(data.augment.brightness_min) << show(data.augment.brightness_max)
        << YAML::EndSeq;
  } else {
    out << YAML::Null;
  }
  out << YAML::Key << "contrast_range" << YAML::Value << show(data.augment.contrast_range) << YAML::EndMap;
  out << YAML::Key << "batch_size" << YAML::Value << data.batch_size;
  out << YAML::Key << "shuffle" << YAML::Value << data.shuffle;
  out << YAML::EndMap;
}

// checkpoint always; early_stopping and lr_schedule as ~ when off.
void emit_callbacks(YAML::Emitter& out, const TrainConfig& train) {
  out << YAML::Key << "checkpoint" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "monitor"
      << YAML::Value << train.checkpoint.monitor << YAML::Key << "mode" << YAML::Value << train.checkpoint.mode
      << YAML::EndMap;
  const EarlyStoppingConfig& stop = train.early_stopping;
  out << YAML::Key << "early_stopping" << YAML::Value;
  if (stop.enabled) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "monitor" << YAML::Value << stop.monitor << YAML::Key
        << "mode" << YAML::Value << stop.mode << YAML::Key << "patience" << YAML::Value << stop.patience
        << YAML::Key << "min_delta" << YAML::Value << show(stop.min_delta) << YAML::Key << "restore_best_weights"
        << YAML::Value << stop.restore_best_weights << YAML::EndMap;
  } else {
    out << YAML::Null;
  }
  const LrScheduleConfig& lr = train.lr_schedule;
  out << YAML::Key << "lr_schedule" << YAML::Value;
  if (lr.type.empty()) {
    out << YAML::Null;
    return;
  }
  out << YAML::Flow << YAML::BeginMap << YAML::Key << "type" << YAML::Value << lr.type;
  if (lr.type == "cosine") {
    out << YAML::Key << "min_lr" << YAML::Value << show(lr.min_lr) << YAML::Key << "warmup_epochs" << YAML::Value
        << lr.warmup_epochs;
  } else {
    out << YAML::Key << "monitor" << YAML::Value << lr.monitor << YAML::Key << "mode" << YAML::Value << lr.mode
        << YAML::Key << "factor" << YAML::Value << show(lr.factor) << YAML::Key << "patience" << YAML::Value
        << lr.patience << YAML::Key << "min_delta" << YAML::Value << show(lr.min_delta) << YAML::Key << "min_lr"
        << YAML::Value << show(lr.min_lr) << YAML::Key << "cooldown" << YAML::Value << lr.cooldown;
  }
  out << YAML::EndMap;
}

void emit_train(YAML::Emitter& out, const TrainConfig& train) {
  const OptimizerConfig& optimizer = train.optimizer;
  out << YAML::BeginMap;
  out << YAML::Key << "optimizer" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << optimizer.type;
  out << YAML::Key << "learning_rate" << YAML::Value << show(optimizer.learning_rate);
  if (optimizer.type == "Adam") {
    out << YAML::Key << "beta_1" << YAML::Value << show(optimizer.beta_1);
    out << YAML::Key << "beta_2" << YAML::Value << show(optimizer.beta_2);
    out << YAML::Key << "epsilon" << YAML::Value << show(optimizer.epsilon);
  }
  out << YAML::EndMap;
  out << YAML::Key << "loss" << YAML::Value << train.loss;
  out << YAML::Key << "metrics" << YAML::Value << YAML::Flow << train.metrics;
  out << YAML::Key << "epochs" << YAML::Value << train.epochs;
  out << YAML::Key << "seed" << YAML::Value << std::to_string(train.seed);
  out << YAML::Key << "device" << YAML::Value << train.device;
  if (!train.kernels.empty()) out << YAML::Key << "kernels" << YAML::Value << train.kernels;
  emit_callbacks(out, train);
  out << YAML::Key << "class_weight" << YAML::Value;
  if (train.class_weight.mode.empty()) {
    out << YAML::Null;
  } else if (train.class_weight.mode == "balanced") {
    out << "balanced";
  } else {
    out << YAML::Flow << YAML::BeginMap;
    for (const auto& [name, weight] : train.class_weight.weights) out << YAML::Key << name << YAML::Value << show(weight);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

}  // namespace

ExperimentConfig parse_experiment_config(const SpecNode& root) {
  root.check_keys(kTopKeys);
  ExperimentConfig config;
  config.source_path = root.file();
  config.name = root.get_string("name");
  if (!is_run_name(config.name)) {
    root.child("name").fail("names the run folder: use letters, digits, '_', '-' and '.' only");
  }
  config.data = parse_data(root.child("data"));
  config.model = root.child("model");
  check_model(config.model, config.data);
  if (root.has("train")) config.train = parse_train(root.child("train"));
  return config;
}

ExperimentConfig load_experiment_config(const std::string& path) {
  return parse_experiment_config(SpecNode::load_file(path));
}

std::string resolved_yaml(const ExperimentConfig& config) {
  YAML::Emitter out;
  out << YAML::Comment("Resolved from " + config.source_path + ", every default filled in.");
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << config.name;
  out << YAML::Key << "data" << YAML::Value;
  emit_data(out, config.data);
  out << YAML::Key << "model" << YAML::Value << config.model.yaml();
  out << YAML::Key << "train" << YAML::Value;
  emit_train(out, config.train);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace cxr
