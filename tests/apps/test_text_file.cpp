// write_text_file (CSV and reports): written through a temporary file and a rename, and on failure
// a plain error naming the file and why, with no temporary file left behind.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "apps/text_file.h"
#include "engine/error.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

std::string error_of(const fs::path& path) {
  try {
    write_text_file(path, "a,b\n");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(WriteTextFile, WritesAndRefusesAFolderOrAMissingFolderLeavingNothing) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_text_file_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "taken");
  write_text_file(dir / "ok.csv", "a,b\n");
  std::ifstream in(dir / "ok.csv");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "a,b\n");
  EXPECT_FALSE(fs::exists(dir / "ok.csv.tmp"));

  EXPECT_EQ(error_of(dir / "taken"), "cannot write " + (dir / "taken").string() + ": it is a folder");
  EXPECT_FALSE(fs::exists(dir / "taken.tmp"));
  EXPECT_EQ(error_of(dir / "missing" / "x.csv"),
            "cannot write " + (dir / "missing" / "x.csv").string() + ": no folder " + (dir / "missing").string());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cxr
