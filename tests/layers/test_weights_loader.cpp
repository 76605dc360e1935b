// Loading weights by name (layers/weights.h): every refusal names the tensor; and the converter
// (tools/convert_keras_h5.py) on the committed file Keras wrote, when Python has h5py.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "config_error.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/model.h"
#include "layers/weights.h"

namespace cxr {
namespace {

using testing::input_error_of;

namespace fs = std::filesystem;
const std::string kFixtures = std::string(CXR_SOURCE_DIR) + "/tests/layers/fixtures/resnet/";

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("cxr_weights_" + std::to_string(::getpid()) + "_" + name)).string();
}


struct Destinations {
  Tensor kernel = Tensor::zeros({2, 3}), bias = Tensor::zeros({3});
  std::vector<NamedDestination> list() { return {{"dense/kernel", kernel}, {"dense/bias", bias}}; }
};

// A model's `weights:` is found beside its config when the current folder lacks it, as the ResNet's
// own `weights:` always was: a config and its weights copied elsewhere work from any folder.
TEST(WeightsLoader, ModelWeightsBesideTheConfigAreFound) {
  const fs::path dir = temp_path("beside");
  fs::create_directories(dir);
  save_safetensors((dir / "head.safetensors").string(),
                   {{"dense/kernel", Tensor::from_vector({2, 1}, {0.5f, -2.0f})},
                    {"dense/bias", Tensor::from_vector({1}, {3})}});
  std::ofstream(dir / "m.yaml") << "{input: [1, 1, 2], weights: head.safetensors, "
                                   "layers: [{type: Flatten}, {type: Dense, units: 1}]}\n";
  ASSERT_FALSE(fs::exists("head.safetensors"));  // not in the current folder
  const Model m = build_model(SpecNode::load_file((dir / "m.yaml").string()), 1);
  EXPECT_EQ(m.layers[1]->parameters()[0].value.to_vector(), (std::vector<float>{0.5f, -2.0f}));
  EXPECT_EQ(m.layers[1]->parameters()[1].value.to_vector(), (std::vector<float>{3.0f}));
  fs::remove_all(dir);
}

TEST(WeightsLoader, CopiesMatchingTensorsByName) {
  const std::string path = temp_path("ok.safetensors");
  save_safetensors(path, {{"dense/bias", Tensor::from_vector({3}, {7, 8, 9})},
                          {"dense/kernel", Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6})}});
  Destinations d;
  load_named_weights(path, d.list());
  EXPECT_EQ(d.kernel.to_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(d.bias.to_vector(), (std::vector<float>{7, 8, 9}));
  fs::remove(path);
}

TEST(WeightsLoader, RefusesMissingExtraAndMisshapenTensorsNamingThem) {
  const std::string path = temp_path("bad.safetensors");
  Destinations d;
  save_safetensors(path, {{"dense/kernel", Tensor::zeros({2, 3})}});
  EXPECT_NE(input_error_of([&] { load_named_weights(path, d.list()); }).find("missing tensor 'dense/bias'"),
            std::string::npos);
  save_safetensors(path, {{"dense/kernel", Tensor::zeros({2, 3})}, {"dense/bias", Tensor::zeros({3})},
                          {"dense_9/bias", Tensor::zeros({1})}});
  EXPECT_NE(input_error_of([&] { load_named_weights(path, d.list()); }).find("extra tensor 'dense_9/bias'"),
            std::string::npos);
  save_safetensors(path, {{"dense/kernel", Tensor::zeros({3, 2})}, {"dense/bias", Tensor::full({3}, 5.0f)}});
  const std::string message = input_error_of([&] { load_named_weights(path, d.list()); });
  EXPECT_NE(message.find("'dense/kernel' has shape [3, 2], expected [2, 3]"), std::string::npos) << message;
  EXPECT_EQ(d.bias.to_vector(), (std::vector<float>{0, 0, 0})) << "nothing is copied unless everything matches";
  fs::remove(path);
}

// A hand-written file: 8-byte header size, the JSON header, `data_bytes` bytes of data.
void write_raw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::ofstream f(path, std::ios::binary);
  const uint64_t size = header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(size >> (8 * i)));
  f << header << std::string(data_bytes, '\0');
}

TEST(WeightsLoader, RefusesAWrongDtypeATruncatedFileAndAHeaderPointingOutside) {
  const std::string path = temp_path("raw.safetensors");
  Destinations d;
  write_raw(path, R"({"dense/kernel":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}})", 12);
  std::string message = input_error_of([&] { load_named_weights(path, d.list()); });
  EXPECT_NE(message.find("'dense/kernel' has dtype \"F16\""), std::string::npos) << message;

  write_raw(path, R"({"dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})", 24);
  fs::resize_file(path, fs::file_size(path) - 10);  // truncated inside the data
  message = input_error_of([&] { load_named_weights(path, d.list()); });
  EXPECT_NE(message.find("'dense/kernel'"), std::string::npos) << message;

  write_raw(path, R"({"dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[4000,4024]}})", 24);
  message = input_error_of([&] { load_named_weights(path, d.list()); });
  EXPECT_NE(message.find("'dense/kernel' points outside the file"), std::string::npos) << message;

  write_raw(path, R"({"dense/kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})", 24);
  fs::resize_file(path, 20);  // truncated inside the header
  message = input_error_of([&] { load_named_weights(path, d.list()); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  fs::remove(path);
}

TEST(WeightsLoader, AResNetRefusesAFileWithoutItsTensorsNamingOne) {
  const std::string path = temp_path("resnet_partial.safetensors");
  save_safetensors(path, {{"resnet50v2/conv1_conv/kernel", Tensor::zeros({64, 7, 7, 3})}});
  try {
    build_model(SpecNode::load_string("{input: [32, 32, 3], layers: [{type: ResNet50V2, weights: '" + path + "'}]}",
                                      "t.yaml"),
                1);
    FAIL() << "a partial weight file must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'resnet50v2/"), std::string::npos) << e.what();
  }
  fs::remove(path);
}

// The converter on a Keras-written HDF5 (ZeroPadding2D, Conv2D with and without bias,
// BatchNormalization, Dense) against the weights Keras reported (keras_small_expected). Needs a
// Python with h5py: CI has none and skips; tools/convert-keras-h5 makes one.
TEST(KerasConverter, ConvertsTheCommittedKerasFile) {
  const char* python_env = std::getenv("CXR_PYTHON");
  const std::string python = python_env ? python_env : "python3";
  if (std::system((python + " -c 'import h5py, numpy' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << python << " has no h5py (set CXR_PYTHON, e.g. build/venv-convert/bin/python)";
  const std::string out = temp_path("converted.safetensors");
  const std::string command = python + " " + CXR_SOURCE_DIR + "/tools/convert_keras_h5.py " + kFixtures +
                              "keras_small.h5.fixture " + out + " --prefix '' > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const SafetensorsFile got = load_safetensors(out), want = load_safetensors(kFixtures + "keras_small_expected.safetensors.fixture");
  ASSERT_EQ(got.tensors.size(), want.tensors.size());
  for (const auto& [name, tensor] : want.tensors) {
    ASSERT_TRUE(got.tensors.count(name)) << name;
    EXPECT_EQ(got.tensors.at(name).shape(), tensor.shape()) << name;
    EXPECT_EQ(got.tensors.at(name).to_vector(), tensor.to_vector()) << name;
  }
  EXPECT_EQ(want.tensors.at("conv1_conv/kernel").shape(), (Shape{4, 3, 3, 3}));  // OHWI
  EXPECT_EQ(want.tensors.count("conv2_block1_1_conv/bias"), 0u);
  EXPECT_EQ(want.tensors.at("conv2_block1_preact_bn/moving_variance").to_vector(), (std::vector<float>{0.5f, 1.0f, 1.5f, 2.0f}));
  fs::remove(out);
}

}  // namespace
}  // namespace cxr
