#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

fs::path temp_file(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "cxr_safetensors_test";
  fs::create_directories(dir);
  return dir / name;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(Safetensors, RoundTripsTensorsAndMetadata) {
  const fs::path path = temp_file("round.safetensors");
  save_safetensors(path, {{"conv2d/kernel", Tensor::from_vector({2, 1, 1, 2}, {1, 2, 3, 4})},
                          {"dense/bias", Tensor::from_vector({3}, {-1, 0.5f, 7})}},
                   {{"epoch", "3"}});
  const SafetensorsFile f = load_safetensors(path);
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors.at("conv2d/kernel").shape(), (Shape{2, 1, 1, 2}));
  EXPECT_EQ(f.tensors.at("conv2d/kernel").to_vector(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(f.tensors.at("dense/bias").to_vector(), (std::vector<float>{-1, 0.5f, 7}));
  EXPECT_EQ(f.metadata.at("epoch"), "3");
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  // The header is little-endian length + JSON, readable by any safetensors reader.
  const std::string bytes = read_all(path);
  EXPECT_EQ(bytes[8], '{');
}

TEST(Safetensors, TruncatedFileIsRefusedNamingTheTensor) {
  const fs::path path = temp_file("trunc.safetensors");
  save_safetensors(path, {{"w", Tensor::from_vector({4}, {1, 2, 3, 4})}});
  const std::string bytes = read_all(path);
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 4));
  }
  try {
    load_safetensors(path);
    FAIL() << "a truncated file must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, HeaderLongerThanTheFileIsRefused) {
  const fs::path path = temp_file("header.safetensors");
  {
    std::ofstream f(path, std::ios::binary);
    const unsigned char size[8] = {0xff, 0xff, 0, 0, 0, 0, 0, 0};
    f.write(reinterpret_cast<const char*>(size), 8);
    f << "{}";
  }
  EXPECT_THROW(load_safetensors(path), InputError);
}

TEST(Safetensors, MissingFileIsAClearError) {
  EXPECT_THROW(load_safetensors("/nonexistent/w.safetensors"), InputError);
}

}  // namespace
}  // namespace cxr
