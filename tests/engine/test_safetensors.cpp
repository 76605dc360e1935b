#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() { return fs::temp_directory_path() / ("cxr_safetensors_test_" + std::to_string(::getpid())); }

fs::path temp_file(const std::string& name) {
  fs::create_directories(temp_dir());
  return temp_dir() / name;
}

// The test files' folder goes when the tests end, so runs do not pile folders up in /tmp.
class RemoveTempDir : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(temp_dir(), ec);
  }
};
const auto* const kRemoveTempDir = ::testing::AddGlobalTestEnvironment(new RemoveTempDir);

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

// Saving where a folder has the file's name: a clear error, the folder untouched, no .tmp file left.
TEST(Safetensors, SaveOntoAFolderFailsCleanly) {
  const fs::path path = temp_file("taken.safetensors");
  fs::create_directories(path / "inside");
  try {
    save_safetensors(path, {{"w", Tensor::from_vector({2}, {1, 2})}}, {});
    FAIL() << "saving onto a folder did not throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("a folder has its name"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(path / "inside"));
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
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

// A NaN or infinity is never saved (training stops first, and save_safetensors refuses one, leaving
// the file already at the path as it was); in a weights file it is damage, refused with the tensor and
// the index (NaN weights made evaluate hang).
TEST(Safetensors, NonFiniteValuesAreRefusedNamingTheTensor) {
  const fs::path path = temp_file("nan.safetensors");
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    save_safetensors(path, {{"bias", Tensor::from_vector({2}, {1, 2})},
                            {"dense/kernel", Tensor::from_vector({3}, {1, 2, 3})}});
    std::stringstream good;
    good << std::ifstream(path, std::ios::binary).rdbuf();
    try {
      save_safetensors(path, {{"bias", Tensor::from_vector({2}, {1, 2})},
                              {"dense/kernel", Tensor::from_vector({3}, {1, 2, bad})}});
      FAIL() << "a non-finite weight must not be saved";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot write " + path.string() + ": tensor 'dense/kernel' holds"),
                std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("at index 2 of [3]"), std::string::npos) << e.what();
    }
    std::stringstream after;
    after << std::ifstream(path, std::ios::binary).rdbuf();
    EXPECT_EQ(after.str(), good.str());
    EXPECT_FALSE(fs::exists(path.string() + ".tmp"));

  }
}

// A file with a hand-written header and `data` after it (another writer's: no checksums).
fs::path crafted(const std::string& name, const std::string& header, const std::string& data) {
  const fs::path path = temp_file(name);
  std::ofstream f(path, std::ios::binary);
  unsigned char size[8] = {};
  for (int i = 0; i < 8; ++i) size[i] = static_cast<unsigned char>(header.size() >> (8 * i));
  f.write(reinterpret_cast<const char*>(size), 8);
  f << header << data;
  return path;
}

// The same with `data_bytes` zero bytes of data.
fs::path crafted(const std::string& name, const std::string& header, size_t data_bytes) {
  return crafted(name, header, std::string(data_bytes, '\0'));
}

std::string load_error(const fs::path& path) {
  try {
    load_safetensors(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

// A file from another writer (no checksums) with a NaN in it: refused by the finite check.
TEST(Safetensors, NonFiniteValuesInAFileWithoutChecksumsAreRefused) {
  const float values[3] = {1, 2, std::numeric_limits<float>::quiet_NaN()};
  const std::string error = load_error(crafted("nan-foreign.safetensors",
                                               R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})",
                                               std::string(reinterpret_cast<const char*>(values), sizeof values)));
  EXPECT_NE(error.find("tensor 'w' holds"), std::string::npos) << error;
  EXPECT_NE(error.find("at index 2 of [3]"), std::string::npos) << error;
}

// One flipped bit in a tensor's data (here the first tensor's: they are stored by name) is refused by
// name; the checksums are in the header for any reader, and not in the metadata the loader returns.
TEST(Safetensors, DamagedDataIsRefusedByItsChecksum) {
  const fs::path path = temp_file("crc.safetensors");
  save_safetensors(path, {{"bias", Tensor::from_vector({2}, {1, 2})},
                          {"dense/kernel", Tensor::from_vector({3}, {1, 2, 3})}},
                   {{"epoch", "4"}});
  const SafetensorsFile good = load_safetensors(path);
  EXPECT_EQ(good.metadata, (std::map<std::string, std::string>{{"epoch", "4"}}));
  const std::string bytes = read_all(path);
  EXPECT_NE(bytes.find(R"("crc32:bias":")"), std::string::npos);
  EXPECT_NE(bytes.find(R"("crc32:dense/kernel":")"), std::string::npos);

  try {  // the checksums' keys are the format's own
    save_safetensors(temp_file("crc-key.safetensors"), {{"w", Tensor::from_vector({1}, {1})}}, {{"crc32:w", "0"}});
    ADD_FAILURE() << "a metadata key with the checksums' prefix was written";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("metadata key 'crc32:w' is reserved"), std::string::npos) << e.what();
  }

  const size_t first_data_byte = bytes.size() - 5 * sizeof(float);
  for (int bit : {0, 7}) {
    std::string damaged = bytes;
    damaged[first_data_byte + 1] = static_cast<char>(damaged[first_data_byte + 1] ^ (1 << bit));
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
    try {
      load_safetensors(path);
      FAIL() << "a damaged tensor loaded (bit " << bit << ")";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path.string() + ": tensor 'bias' does not match its checksum"),
                std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("the file is damaged"), std::string::npos) << e.what();
    }
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

TEST(Safetensors, CraftedHeadersAreRefused) {
  // A shape whose byte count overflows to 0 must not yield a tensor with no memory behind it.
  EXPECT_NE(load_error(crafted("overflow.st", R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0))
                .find("too large"), std::string::npos);
  EXPECT_NE(load_error(crafted("overflow2.st", R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", 0))
                .find("too large"), std::string::npos);
  // A name listed twice (JSON would keep one of them): even where the second entry alone fits the data.
  EXPECT_NE(load_error(crafted("twice.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8))
                .find("lists 'a' twice"), std::string::npos);
  // Two tensors sharing bytes.
  EXPECT_NE(load_error(crafted("overlap.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8))
                .find("overlapping"), std::string::npos);
  // A shape that is not a list, negative sizes, junk after the data.
  EXPECT_NE(load_error(crafted("shape.st", R"({"w":{"dtype":"F32","shape":"big","data_offsets":[0,4]}})", 4))
                .find("shape"), std::string::npos);
  EXPECT_NE(load_error(crafted("negative.st", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4))
                .find("'w'"), std::string::npos);
  EXPECT_NE(load_error(crafted("tail.st", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8))
                .find("after the last tensor"), std::string::npos);
  EXPECT_NE(load_error(crafted("dtype.st", R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4))
                .find("F16"), std::string::npos);
}

TEST(Safetensors, MissingFileIsAClearError) {
  EXPECT_THROW(load_safetensors("/nonexistent/w.safetensors"), InputError);
}

// A folder or a FIFO given as the weights: refused by name before any read (a folder's failed reads
// once gave a garbage size; a FIFO would block the open).
TEST(Safetensors, FolderOrFifoIsRefusedAsNotAWeightsFile) {
  const fs::path folder = temp_file("folder.safetensors");
  fs::create_directories(folder);
  EXPECT_NE(load_error(folder).find(folder.string() + " is a folder, not a weights file"), std::string::npos)
      << load_error(folder);
  const fs::path fifo = temp_file("fifo.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int writer = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);  // so a reader's open cannot block this test
  EXPECT_NE(load_error(fifo).find(fifo.string() + " is not a regular file"), std::string::npos) << load_error(fifo);
  ::close(writer);
}

}  // namespace
}  // namespace cxr
