// Experiment configs: the three shipped files hold the notebook's models and settings, defaults
// fill in, every bad value is a ConfigError at the right place, and resolved_yaml round-trips.
#include <gtest/gtest.h>

#include "tests/layers/config_error.h"

#include <functional>

#include "apps/experiment_config.h"

namespace cxr {
namespace {

const std::string kSource = CXR_SOURCE_DIR;

const auto error_of = testing::config_error_of;

ExperimentConfig parse(const std::string& text) {
  return parse_experiment_config(SpecNode::load_string(text, "x.yaml"));
}

// The smallest valid file, with `extra_data` lines added under data: and `tail` at the end.
std::string minimal(const std::string& extra_data = "", const std::string& tail = "") {
  return "name: tiny\n"
         "data:\n"
         "  image_size: 8\n" +
         extra_data +
         "model:\n"
         "  input: [8, 8, 3]\n"
         "  layers:\n"
         "    - {type: Flatten}\n" +
         tail;
}

struct ParamCounts {
  long total = 0, non_trainable = 0;
};

// Keras's parameter arithmetic (keras-facts.md §9) over the spec, independent of the layer
// registry: proves the shipped files describe the notebook's exact models.
ParamCounts count_params(const SpecNode& model) {
  const std::vector<int> input = model.get_int_list("input");
  long height = input[0], width = input[1], channels = input[2], features = 0;
  ParamCounts counts;
  for (const SpecNode& layer : model.child("layers").items()) {
    const std::string type = layer.get_string("type");
    if (type == "Conv2D") {
      const auto [kernel, unused] = layer.get_int_pair("kernel");
      const auto [stride, unused2] = layer.get_int_pair("strides", {1, 1});
      const long filters = layer.get_int("filters");
      EXPECT_EQ(layer.get_string("padding"), "valid");
      height = (height - kernel) / stride + 1;
      width = (width - kernel) / stride + 1;
      counts.total += kernel * kernel * channels * filters + filters;
      channels = filters;
    } else if (type == "BatchNormalization") {
      const long c = features ? features : channels;
      counts.total += 4 * c;
      counts.non_trainable += 2 * c;
    } else if (type == "MaxPooling2D") {
      const auto [pool, unused] = layer.get_int_pair("pool_size");
      height /= pool;
      width /= pool;
    } else if (type == "Flatten") {
      features = height * width * channels;
    } else if (type == "Dense") {
      const long units = layer.get_int("units");
      counts.total += features * units + units;
      features = units;
    }
  }
  return counts;
}

void expect_notebook_data(const DataConfig& data, int size, double rescale) {
  EXPECT_EQ(data.train, "train");
  EXPECT_EQ(data.validation, (SplitConfig{"", "train", 0.3, 42}));
  EXPECT_EQ(data.test, SplitConfig::folder("test"));
  EXPECT_EQ(data.image_height, size);
  EXPECT_EQ(data.image_width, size);
  EXPECT_EQ(data.color_mode, "rgb");
  EXPECT_EQ(data.rescale, rescale);
  EXPECT_EQ(data.interpolation, "nearest");
  EXPECT_EQ(data.augment, (AugmentConfig{0.1, 0.1, 0.1}));
  EXPECT_EQ(data.batch_size, 32);
  EXPECT_FALSE(data.shuffle);
}

void expect_notebook_training(const TrainConfig& train, int epochs) {
  EXPECT_EQ(train.optimizer, (OptimizerConfig{"Adam", 3e-6, 0.9, 0.999, 1e-7}));
  EXPECT_EQ(train.loss, "binary_crossentropy");
  EXPECT_EQ(train.metrics, std::vector<std::string>{"binary_accuracy"});
  EXPECT_EQ(train.epochs, epochs);
  EXPECT_EQ(train.seed, 42u);
  EXPECT_EQ(train.device, "cpu");
}

TEST(ExperimentConfigFiles, Experiment1IsTheNotebooksFirstModel) {
  const auto config = load_experiment_config(kSource + "/configs/experiment1.yaml");
  EXPECT_EQ(config.name, "experiment1");
  EXPECT_EQ(config.source_path, kSource + "/configs/experiment1.yaml");
  expect_notebook_data(config.data, 50, 1.0 / 50);
  expect_notebook_training(config.train, 300);
  EXPECT_EQ(config.model.child("layers").items().size(), 21u);
  const ParamCounts counts = count_params(config.model);
  EXPECT_EQ(counts.total, 131681);
  EXPECT_EQ(counts.non_trainable, 352);
}

TEST(ExperimentConfigFiles, Experiment2AddsAFourthConvBlock) {
  const auto config = load_experiment_config(kSource + "/configs/experiment2.yaml");
  EXPECT_EQ(config.name, "experiment2");
  expect_notebook_data(config.data, 50, 1.0 / 50);
  expect_notebook_training(config.train, 300);
  EXPECT_EQ(config.model.child("layers").items().size(), 25u);
  const ParamCounts counts = count_params(config.model);
  EXPECT_EQ(counts.total, 172961);
  EXPECT_EQ(counts.non_trainable, 480);
}

TEST(ExperimentConfigFiles, Experiment3IsTheFirstModelAt128) {
  const auto config = load_experiment_config(kSource + "/configs/experiment3.yaml");
  EXPECT_EQ(config.name, "experiment3");
  expect_notebook_data(config.data, 128, 1.0 / 128);
  expect_notebook_training(config.train, 200);
  EXPECT_EQ(config.model.get_int_list("input"), (std::vector<int>{128, 128, 3}));
  const ParamCounts counts = count_params(config.model);
  EXPECT_EQ(counts.total, 868961);
  EXPECT_EQ(counts.non_trainable, 352);
}

void expect_same(const ExperimentConfig& a, const ExperimentConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(YAML::Dump(a.model.yaml()), YAML::Dump(b.model.yaml()));
}

// Everything after the first line, which names the source file.
std::string body(const std::string& resolved) { return resolved.substr(resolved.find('\n') + 1); }

TEST(ResolvedYaml, RoundTripsTheShippedConfigs) {
  for (const char* name : {"experiment1", "experiment2", "experiment3"}) {
    SCOPED_TRACE(name);
    const auto config = load_experiment_config(kSource + "/configs/" + name + ".yaml");
    const std::string text = resolved_yaml(config);
    const auto again = parse_experiment_config(SpecNode::load_string(text, "resolved.yaml"));
    expect_same(config, again);
    EXPECT_EQ(body(resolved_yaml(again)), body(text));
  }
}

TEST(ResolvedYaml, RoundTripsUnusualValues) {
  const auto config = parse(
      "name: odd\n"
      "data:\n"
      "  train: 2020\n"
      "  validation: validate\n"
      "  test: ~\n"
      "  image_size: [64, 32]\n"
      "  color_mode: grayscale\n"
      "  rescale: 0.30000000000000004\n"
      "  interpolation: bilinear\n"
      "  augment: {zoom_range: 0.15}\n"
      "  batch_size: 7\n"
      "  shuffle: true\n"
      "model:\n"
      "  input: [64, 32, 1]\n"
      "  layers:\n"
      "    - type: Dense\n"
      "      units: 1\n"
      "train:\n"
      "  optimizer: {type: SGD, learning_rate: 1e-2}\n"
      "  metrics: []\n"
      "  seed: 18446744073709551615\n"
      "  device: cuda:1\n");
  EXPECT_FALSE(config.data.test.defined());
  EXPECT_EQ(config.data.validation, SplitConfig::folder("validate"));
  EXPECT_EQ(config.train.seed, 18446744073709551615u);
  EXPECT_TRUE(config.train.metrics.empty());
  const auto again = parse_experiment_config(SpecNode::load_string(resolved_yaml(config), "r.yaml"));
  expect_same(config, again);
  EXPECT_EQ(again.data.rescale, 0.30000000000000004);
}

TEST(ExperimentConfig, DefaultsFillIn) {
  const auto config = parse(minimal());
  EXPECT_EQ(config.source_path, "x.yaml");
  const DataConfig data = config.data;
  EXPECT_EQ(data.train, "train");
  EXPECT_FALSE(data.validation.defined());
  EXPECT_EQ(data.test, SplitConfig::folder("test"));
  EXPECT_EQ(data.image_height, 8);
  EXPECT_EQ(data.image_width, 8);
  EXPECT_EQ(data.rescale, 1.0);
  EXPECT_EQ(data.augment, AugmentConfig{});
  EXPECT_EQ(data.batch_size, 32);
  const TrainConfig defaults;  // a named object: GCC 12 -O3 warns falsely on a temporary here
  EXPECT_EQ(config.train, defaults);
  EXPECT_EQ(parse(minimal("", "train:\n  optimizer: SGD\n")).train.optimizer.type, "SGD");
}

struct BadCase {
  std::string extra_data, tail, expected;
};

// split_from names the train split as a folder: `train`, `train/` and `./train` are the same one.
TEST(ExperimentConfig, SplitFromMatchesTheTrainFolderHoweverItIsSpelled) {
  EXPECT_TRUE(same_folder_name("train", "train/"));
  EXPECT_TRUE(same_folder_name("./train", "train"));
  EXPECT_TRUE(same_folder_name("data/train/", "data//train"));
  EXPECT_FALSE(same_folder_name("train", "test"));
  EXPECT_FALSE(same_folder_name("train", "data/train"));
  const ExperimentConfig config = parse(minimal("  train: train/\n  validation: {split_from: ./train, fraction: 0.3}\n"));
  EXPECT_EQ(config.data.validation.split_from, "./train");
}

TEST(ExperimentConfig, BadValuesAreConfigErrorsAtTheValue) {
  const std::vector<BadCase> cases = {
      {"  batchsize: 4\n", "",
       "x.yaml:4:3: data: unknown key 'batchsize' (did you mean 'batch_size'?); allowed: train, "
       "validation, test, image_size, color_mode, rescale, interpolation, augment, batch_size, shuffle, decode, strict"},
      {"  rescale: 1/50\n", "",
       "x.yaml:4:12: data.rescale: expected a number, got '1/50' (expressions are not supported: write "
       "0.02)"},
      {"  rescale: 0\n", "", "x.yaml:4:12: data.rescale: must be > 0, got 0"},
      {"  batch_size: 0\n", "", "x.yaml:4:15: data.batch_size: must be at least 1, got 0"},
      {"  color_mode: RGB\n", "",
       "x.yaml:4:15: data.color_mode: expected one of rgb, grayscale, got 'RGB' (did you mean 'rgb'?)"},
      {"  interpolation: bicubic\n", "",
       "x.yaml:4:18: data.interpolation: expected one of nearest, bilinear, area, got 'bicubic'"},
      {"  shuffle: 1\n", "", "x.yaml:4:12: data.shuffle: expected true or false, got '1'"},
      {"  augment: {zoom: 0.1}\n", "",
       "x.yaml:4:13: data.augment: unknown key 'zoom' (did you mean 'zoom_range'?); allowed: "
       "zoom_range, width_shift_range, height_shift_range, rotation_range, horizontal_flip, brightness_range, "
       "contrast_range"},
      {"  augment: {width_shift_range: 2}\n", "",
       "x.yaml:4:32: data.augment.width_shift_range: must be in [0, 1), got 2"},
      {"  validation: {split_from: train, fraction: 1.0}\n", "",
       "x.yaml:4:45: data.validation.fraction: must be between 0 and 1 (exclusive), got 1"},
      {"  validation: \"\"\n", "",
       "x.yaml:4:15: data.validation: an empty folder name: give a folder, {split_from: ..., fraction: ...}, or ~ "
       "for none"},
      {"  validation: {split_from: train}\n", "",
       "x.yaml:4:15: data.validation: missing required key 'fraction'"},
      {"  validation: {split_from: nothere, fraction: 0.3}\n", "",
       "x.yaml:4:28: data.validation.split_from: must name the train split 'train', not 'nothere'"},
      {"  validation: {dir: v, fraction: 0.3}\n", "",
       "x.yaml:4:34: data.validation.fraction: only goes with 'split_from', not with 'dir'"},
      {"  test: {dir: a, split_from: b, fraction: 0.5}\n", "",
       "x.yaml:4:9: data.test: give either 'dir' (a folder) or 'split_from' (with 'fraction'), not both "
       "or neither"},
      {"  validation: {split_from: train, fration: 0.3}\n", "",
       "x.yaml:4:35: data.validation: unknown key 'fration' (did you mean 'fraction'?); allowed: dir, "
       "split_from, fraction, seed"},
      {"", "train:\n  epochs: 0\n", "x.yaml:9:11: train.epochs: must be at least 1, got 0"},
      {"", "train:\n  optimizer: {type: adam}\n",
       "x.yaml:9:21: train.optimizer.type: expected one of Adam, SGD, got 'adam' (did you mean 'Adam'?)"},
      {"", "train:\n  optimizer: {type: SGD, beta_1: 0.9}\n",
       "x.yaml:9:26: train.optimizer: unknown key 'beta_1' in SGD; allowed: type, learning_rate"},
      {"", "train:\n  optimizer: {type: Adam, learning_rate: 1/1000}\n",
       "x.yaml:9:42: train.optimizer.learning_rate: expected a number, got '1/1000' (expressions are "
       "not supported: write 0.001)"},
      {"", "train:\n  optimizer: {type: Adam, beta_2: 1}\n",
       "x.yaml:9:35: train.optimizer.beta_2: must be in [0, 1), got 1"},
      {"", "train:\n  loss: mse\n", "x.yaml:9:9: train.loss: expected one of binary_crossentropy, got 'mse'"},
      {"", "train:\n  metrics: [binary_acuracy]\n",
       "x.yaml:9:13: train.metrics[0]: expected one of binary_accuracy, got 'binary_acuracy' (did you "
       "mean 'binary_accuracy'?)"},
      {"", "train:\n  device: gpu\n", "x.yaml:9:11: train.device: expected cpu, cuda or cuda:N, got 'gpu'"},
      {"", "train:\n  seed: -1\n",
       "x.yaml:9:9: train.seed: expected a non-negative integer below 2^64, got '-1'"},
      {"", "trian:\n  epochs: 3\n",
       "x.yaml:8:1: unknown key 'trian' (did you mean 'train'?); allowed: name, data, model, train"},
  };
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.extra_data + bad.tail);
    EXPECT_EQ(error_of([&] { parse(minimal(bad.extra_data, bad.tail)); }), bad.expected);
  }
}

TEST(ExperimentConfig, ImageSizeNameAndModelFrame) {
  EXPECT_EQ(
      error_of([] { parse("name: a\ndata: {}\nmodel: {input: [1, 1, 3], layers: [{type: Flatten}]}\n"); }),
      "x.yaml:2:7: data: missing required key 'image_size'");
  EXPECT_EQ(
      error_of([] {
        parse("name: a/b\ndata: {image_size: 1}\nmodel: {input: [1, 1, 3], layers: [{type: Flatten}]}\n");
      }),
      "x.yaml:1:7: name: names the run folder: use letters, digits, '_', '-' and '.' only");
  EXPECT_EQ(error_of([] {
              parse("name: a\ndata: {image_size: 0}\nmodel: {input: [1, 1, 3], layers: [{type: Flatten}]}\n");
            }),
            "x.yaml:2:20: data.image_size: sizes must be at least 1");
  EXPECT_EQ(error_of([] { parse("name: a\ndata: {image_size: 1}\n"); }),
            "x.yaml:1:1: missing required key 'model'");
  EXPECT_EQ(error_of([] { parse("name: a\ndata: {image_size: 1}\nmodel: {layers: [{type: Flatten}]}\n"); }),
            "x.yaml:3:8: model: missing required key 'input'");
  EXPECT_EQ(error_of([] { parse("name: a\ndata: {image_size: 1}\nmodel: {input: [1, 1], layers: []}\n"); }),
            "x.yaml:3:16: model.input: expected [height, width, channels], got 2 numbers");
  EXPECT_EQ(
      error_of([] { parse("name: a\ndata: {image_size: 2}\nmodel: {input: [2, 2, 1], layers: []}\n"); }),
      "x.yaml:3:16: model.input: does not match the data: image_size [2, 2] with color_mode rgb gives "
      "[2, 2, 3]");
  EXPECT_EQ(
      error_of([] { parse("name: a\ndata: {image_size: 1}\nmodel: {input: [1, 1, 3], layers: Flatten}\n"); }),
      "x.yaml:3:35: model.layers: expected a list, got 'Flatten'");
  EXPECT_EQ(
      error_of([] { parse("name: a\ndata: {image_size: 1}\nmodel: {input: [1, 1, 3], layers: []}\n"); }),
      "x.yaml:3:35: model.layers: a model needs at least one layer");
}

TEST(ExperimentConfig, FileErrorsNameTheFile) {
  const std::string dir = kSource + "/tests/apps/fixtures/bad_configs/";
  EXPECT_EQ(error_of([&] { load_experiment_config(dir + "rescale_expression.yaml"); }),
            dir +
                "rescale_expression.yaml:5:12: data.rescale: expected a number, got '1/50' (expressions are "
                "not supported: write 0.02)");
  EXPECT_EQ(
      error_of([&] {
        load_experiment_config(dir + "misspelled_key.yaml");
      }).find(dir + "misspelled_key.yaml:5:3: data: unknown key 'batchsize' (did you mean 'batch_size'?)"),
      0u);
  EXPECT_EQ(error_of([&] { load_experiment_config(dir + "no_such_file.yaml"); }),
            dir + "no_such_file.yaml: cannot open the file");
}

}  // namespace
}  // namespace cxr
