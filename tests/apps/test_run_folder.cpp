// Opening a run folder (apps/run_folder.h): a damaged split.csv is named with the rows that are wrong.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "apps/run_folder.h"
#include "engine/error.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

// split.csv lists every image with its class; a third label (a typo in an edit) is shown with where
// it starts, instead of "expected 2 classes, found 3".
TEST(RunFolder, AThirdClassInSplitCsvIsNamedWithItsLine) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_run_folder_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml", dir / "config.yaml",
                fs::copy_options::overwrite_existing);
  std::ofstream(dir / "split.csv") << "path,label,split\n"
                                      "NORMAL/a.jpeg,NORMAL,train\n"
                                      "NORMAL/b.jpeg,NORMAL,test\n"
                                      "PNEUMONIA/c.jpeg,PNEUMONIA,train\n"
                                      "PNEUMONIA/d.jpeg,PNEUMONA,test\n";
  try {
    open_run_folder(dir.string());
    ADD_FAILURE() << "three classes must be refused";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "split.csv").string() +
                                         ": expected 2 classes, found 3: 'NORMAL' (first on line 2, 2 rows), "
                                         "'PNEUMONA' (first on line 5, 1 row), 'PNEUMONIA' (first on line 4, 1 row)");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cxr
