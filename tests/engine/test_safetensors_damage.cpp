// Every truncation and single-byte change of a small weights file: a clear InputError naming the
// file, or (where the damage leaves a valid file, a changed metadata value say) a load. Never a
// crash, a read past the end (tools/test --sanitize), another exception type or a huge allocation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/damaged_copies.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::DamagedCopy;

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(SafetensorsDamage, EveryCutAndByteChangeIsAClearErrorOrAValidLoad) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_safetensors_damage_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path good_path = dir / "good.safetensors", path = dir / "damaged.safetensors";
  save_safetensors(good_path,
                   {{"conv2d/kernel", Tensor::from_vector({2, 1, 1, 3}, {1, 2, 3, 4, 5, 6})},
                    {"dense/bias", Tensor::from_vector({2}, {-1, 0.5f})}},
                   {{"epoch", "3"}});
  const std::vector<uint8_t> good = read_bytes(good_path);
  ASSERT_GT(good.size(), 100u);

  testing::DamageFindings findings;
  size_t copies = 0, refused = 0;
  testing::for_each_damaged_copy(good, [&](const DamagedCopy& copy) {
    ++copies;
    write_bytes(path, copy.bytes);
    try {
      const SafetensorsFile loaded = load_safetensors(path.string());
      // A load must give tensors whose data is the file's: the same values where the names survived.
      for (const auto& [name, tensor] : loaded.tensors)
        if (name == "dense/bias" && tensor.to_vector() != std::vector<float>{-1, 0.5f})
          findings.add(copy, "loaded dense/bias with other values and no error");
    } catch (const InputError& e) {
      ++refused;
      if (std::string(e.what()).find(path.string()) == std::string::npos)
        findings.add(copy, std::string("InputError without the file's name: ") + e.what());
    } catch (const std::exception& e) {
      findings.add(copy, std::string("not an InputError: ") + e.what());
    }
  });
  fs::remove_all(dir);
  EXPECT_TRUE(findings.empty()) << findings.report();
  // Nearly every copy is damage the loader must see (all cuts do: a file's end is its last tensor's).
  EXPECT_GE(refused, good.size());
  EXPECT_GT(refused, copies * 9 / 10) << refused << " of " << copies << " refused";
}

}  // namespace
}  // namespace cxr
