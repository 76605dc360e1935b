// Helpers shared by the data/ tests: scratch folders, fixture files, the shared real data.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace cxr::data::testing {

// A fresh folder under the system temp dir, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("cxr_data_" + std::string(info ? info->name() : "test") + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string fixture_path(const std::string& rel) { return std::string(CXR_SOURCE_DIR) + "/tests/data/fixtures/" + rel; }

// The fixture's lines, each split at spaces.
inline std::vector<std::vector<std::string>> fixture_lines(const std::string& rel) {
  std::ifstream in(fixture_path(rel));
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) fields.push_back(w);
    if (!fields.empty()) lines.push_back(fields);
  }
  return lines;
}

// shared/data with the real chest X-rays: $CXR_SHARED_DIR/data (or $CXR_SHARED_DIR itself), else
// <source>/../shared/data. Empty when neither exists: the caller skips.
inline std::string shared_data_dir() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("CXR_SHARED_DIR")) {
    candidates.push_back(fs::path(env) / "data");
    candidates.push_back(env);
  }
  candidates.push_back(fs::path(CXR_SOURCE_DIR) / ".." / "shared" / "data");
  for (const fs::path& p : candidates)
    if (fs::is_directory(p / "chest_xray_real")) return p.string();
  return {};
}

// 64-bit FNV-1a, as in tools/fixtures/make_real_pillow_fixture.py.
inline uint64_t fnv1a64(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ull;
  return h;
}

}  // namespace cxr::data::testing
