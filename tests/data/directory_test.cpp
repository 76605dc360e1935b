// scan_class_directory lists files in Keras's order and refuses unusable folders clearly.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "data/directory.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {
using testing::TempDir;

void touch(const TempDir& dir, const std::string& rel) { testing::write_bytes(dir / rel, "x"); }

std::vector<std::string> relative(const TempDir& dir, const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const std::string& f : files) out.push_back(std::filesystem::relative(f, dir.path()).string());
  return out;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ScanClassDirectory, KerasOrderAndExtensionFilter) {
  TempDir dir;
  for (const char* f : {"NORMAL/b.jpeg", "NORMAL/a.JPG", "NORMAL/c.png", "NORMAL/zz.jpeg", "NORMAL/sub/a.jpeg",
                        "NORMAL/sub/deeper/k.Jpeg", "NORMAL/notes.txt", "NORMAL/Thumbs.db", "NORMAL/.DS_Store",
                        "NORMAL/._b.jpeg", "NORMAL/.hidden/h.jpeg", "NORMAL/scan.tif", "NORMAL/t.TIFF",
                        "PNEUMONIA/x.jpeg", "PNEUMONIA/Y.jpeg", "PNEUMONIA/y.BMP", "PNEUMONIA/p.ppm",
                        "PNEUMONIA/a.jpeg.txt"})
    touch(dir, f);
  std::filesystem::create_directories(dir.path() / ".ipynb_checkpoints");
  touch(dir, "stray_file_at_top.jpeg");

  const DatasetIndex index = scan_class_directory(dir.path().string());
  EXPECT_EQ(index.class_names, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  // A folder's own files (sorted by name; 'Y' < 'p' < 'x' in byte order) come before its subfolders',
  // as os.walk sorted by root path gives them: zz.jpeg before sub/a.jpeg. Keras's extensions all
  // count, the TIFF and PPM files too (loading then names them as unsupported), as they do in Keras's
  // class counts.
  EXPECT_EQ(relative(dir, index.files),
            (std::vector<std::string>{"NORMAL/a.JPG", "NORMAL/b.jpeg", "NORMAL/c.png", "NORMAL/scan.tif",
                                      "NORMAL/t.TIFF", "NORMAL/zz.jpeg", "NORMAL/sub/a.jpeg",
                                      "NORMAL/sub/deeper/k.Jpeg", "PNEUMONIA/Y.jpeg", "PNEUMONIA/p.ppm",
                                      "PNEUMONIA/x.jpeg", "PNEUMONIA/y.BMP"}));
  EXPECT_EQ(index.labels, (std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(class_counts(index), (std::vector<int>{8, 4}));
}

// Links: a link to a folder is not entered (Keras's follow_links=False; one back to the class folder
// listed every image twice), a link to an image is an image, and a dangling one is listed so that
// loading names it as unreadable instead of the scan skipping it silently.
TEST(ScanClassDirectory, FolderLinksAreNotEnteredAndDanglingLinksAreListed) {
  TempDir dir;
  for (const char* f : {"NORMAL/a.jpeg", "NORMAL/sub/b.jpeg", "PNEUMONIA/p.jpeg"}) touch(dir, f);
  namespace fs = std::filesystem;
  fs::create_directory_symlink("..", dir.path() / "NORMAL/sub/up");
  fs::create_directory_symlink("../NORMAL", dir.path() / "NORMAL/self");
  fs::create_symlink("a.jpeg", dir.path() / "NORMAL/c.jpeg");
  fs::create_symlink("/nonexistent/x.jpeg", dir.path() / "NORMAL/dangling.jpeg");
  const DatasetIndex index = scan_class_directory(dir.path().string());
  std::vector<std::string> names;  // not relative(): fs::relative would resolve c.jpeg to a.jpeg
  for (const std::string& f : index.files) names.push_back(fs::path(f).lexically_relative(dir.path()).string());
  EXPECT_EQ(names, (std::vector<std::string>{"NORMAL/a.jpeg", "NORMAL/c.jpeg", "NORMAL/dangling.jpeg",
                                              "NORMAL/sub/b.jpeg", "PNEUMONIA/p.jpeg"}));
}

TEST(ScanClassDirectory, ClassesInByteOrder) {
  TempDir dir;
  for (const char* f : {"b/1.png", "B/1.png", "a/1.png", "_x/1.png"}) touch(dir, f);
  EXPECT_EQ(scan_class_directory(dir.path().string()).class_names, (std::vector<std::string>{"B", "_x", "a", "b"}));
}

TEST(ScanClassDirectory, MissingFolder) {
  TempDir dir;
  const std::string missing = dir / "no_such_dir";
  const std::string what = error_of([&] { scan_class_directory(missing); });
  EXPECT_NE(what.find(missing), std::string::npos) << what;
  EXPECT_NE(what.find("no such folder"), std::string::npos) << what;
}

TEST(ScanClassDirectory, NoClassSubfolders) {
  TempDir dir;
  touch(dir, "a.jpeg");
  const std::string what = error_of([&] { scan_class_directory(dir.path().string()); });
  EXPECT_NE(what.find(dir.path().string()), std::string::npos) << what;
  EXPECT_NE(what.find("no class subfolders"), std::string::npos) << what;
}

TEST(ScanClassDirectory, ClassFolderWithoutImages) {
  TempDir dir;
  touch(dir, "NORMAL/a.jpeg");
  touch(dir, "PNEUMONIA/.DS_Store");
  touch(dir, "PNEUMONIA/readme.txt");
  const std::string what = error_of([&] { scan_class_directory(dir.path().string()); });
  EXPECT_NE(what.find("PNEUMONIA"), std::string::npos) << what;
  EXPECT_NE(what.find("holds no images"), std::string::npos) << what;
}

}  // namespace
}  // namespace cxr::data
