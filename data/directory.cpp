#include "data/directory.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

namespace cxr::data {
namespace fs = std::filesystem;
namespace {

bool is_hidden(const fs::path& p) { return p.filename().string().starts_with('.'); }

// An image name that is not a folder (or a link to one) is listed: a file, a link that leads nowhere,
// a FIFO or a device. Loading names the ones it cannot read as unreadable (and --strict stops on
// them), rather than the scan dropping them without a word.
bool is_listed_file(const fs::directory_entry& e) {
  std::error_code ec;
  return !e.is_directory(ec);
}

// The image files under one class folder, in the order Keras yields them: os.walk's folders sorted
// by path (a folder's own files before its subfolders'), then each folder's file names sorted.
// Like flow_from_directory's default (follow_links=False), a link to a folder is not entered: one
// back to its parent had listed every image twice, some in both the training and validation split.
std::vector<std::string> list_class_images(const fs::path& class_dir) {
  std::vector<fs::path> folders{class_dir};
  for (auto it = fs::recursive_directory_iterator(class_dir); it != fs::recursive_directory_iterator(); ++it) {
    if (is_hidden(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory() && !it->is_symlink()) folders.push_back(it->path());
  }
  // std::string's < compares bytes as unsigned char, which is Python's code-point order for UTF-8.
  std::sort(folders.begin(), folders.end(), [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });

  std::vector<std::string> files;
  for (const fs::path& folder : folders) {
    std::vector<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(folder)) {
      const std::string name = e.path().filename().string();
      if (!name.starts_with('.') && has_image_extension(name) && is_listed_file(e)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) files.push_back((folder / name).string());
  }
  return files;
}

}  // namespace

// Keras's white_list_formats: what it would find, cxrnet lists too (it decodes JPEG and PNG; the
// others are reported as unreadable, by format, rather than left out of the counts without a word).
constexpr const char* kImageExtensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff"};

bool has_image_extension(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* ext : kImageExtensions)
    if (lower.ends_with(ext)) return true;
  return false;
}

std::string image_extensions() {
  std::string text;
  for (const char* ext : kImageExtensions) text += (text.empty() ? "" : ", ") + std::string(ext);
  return text;
}

DatasetIndex scan_class_directory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error(dir + ": no such folder");

  DatasetIndex index;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (!is_hidden(e.path()) && e.is_directory()) index.class_names.push_back(e.path().filename().string());
  std::sort(index.class_names.begin(), index.class_names.end());
  if (index.class_names.empty())
    throw std::runtime_error(dir + ": no class subfolders (expected one folder per class, e.g. NORMAL/ and PNEUMONIA/)");

  for (size_t label = 0; label < index.class_names.size(); ++label) {
    const fs::path class_dir = fs::path(dir) / index.class_names[label];
    std::vector<std::string> files = list_class_images(class_dir);
    if (files.empty())
      throw std::runtime_error(class_dir.string() + ": class folder holds no images (" + image_extensions() + ")");
    index.files.insert(index.files.end(), files.begin(), files.end());
    index.labels.insert(index.labels.end(), files.size(), static_cast<int>(label));
  }
  return index;
}

std::vector<int> class_counts(const DatasetIndex& index) {
  std::vector<int> counts(index.class_names.size(), 0);
  for (int label : index.labels) ++counts.at(static_cast<size_t>(label));
  return counts;
}

}  // namespace cxr::data
