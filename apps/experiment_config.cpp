#include "apps/experiment_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cxr {
namespace {

const std::vector<std::string> kTopKeys = {"name", "data", "model", "train"};
const std::vector<std::string> kDataKeys = {"train",   "validation",    "test",    "image_size", "color_mode",
                                            "rescale", "interpolation", "augment", "batch_size", "shuffle",
                                            "decode",  "strict"};
const std::vector<std::string> kSplitKeys = {"dir", "split_from", "fraction", "seed"};
const std::vector<std::string> kAugmentKeys = {"zoom_range",     "width_shift_range", "height_shift_range",
                                               "rotation_range", "horizontal_flip",   "brightness_range",
                                               "contrast_range"};
const std::vector<std::string> kTrainKeys = {"optimizer", "loss", "metrics", "epochs", "seed", "device", "kernels"};
const std::vector<std::string> kAdamKeys = {"type", "learning_rate", "beta_1", "beta_2", "epsilon"};
const std::vector<std::string> kSgdKeys = {"type", "learning_rate"};

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

SplitConfig optional_split(const SpecNode& data, const std::string& key, SplitConfig fallback) {
  return data.has(key) ? parse_split(data.child(key)) : fallback;
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
  data.validation = optional_split(node, "validation", data.validation);
  data.test = optional_split(node, "test", data.test);
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
