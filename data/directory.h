// Listing a Keras-style class directory (DIR/<class>/**/*.jpeg) and carving a validation split.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cxr::data {

struct DatasetIndex {
  std::vector<std::string> class_names;  // sorted; label = position here
  std::vector<std::string> files;        // full paths (DIR/<class>/<relative path>)
  std::vector<int> labels;               // one per file
};

// Lists DIR as Keras's flow_from_directory does: classes are the subfolders in byte order (Python's
// sorted), so NORMAL = 0 and PNEUMONIA = 1; inside each class the tree is walked recursively with
// folders visited in sorted path order and each folder's files sorted by name (keras_preprocessing's
// _iter_valid_files); all of class 0 comes first, then class 1, ... Kept: Keras's .png .jpg .jpeg
// .bmp .ppm .tif .tiff in any case (loading names the BMP, PPM and TIFF files as unsupported).
// Unlike Keras, hidden entries (names starting with '.', such as .DS_Store, macOS ._x.jpeg resource
// forks or .ipynb_checkpoints/) are ignored, rather than becoming files or a class.
// Throws std::runtime_error naming the path when DIR is missing, has no class folders, or a class
// folder holds no image.
DatasetIndex scan_class_directory(const std::string& dir);

// Whether a file name has one of the extensions the scan lists (Keras's white_list_formats), in any case.
bool has_image_extension(const std::string& name);
// Those extensions for a message: ".png, .jpg, .jpeg, .bmp, .ppm, .tif, .tiff".
std::string image_extensions();

// Splits each class apart: round(fraction · n_class) files (half away from zero) are carved out,
// chosen by a permutation seeded by (seed, class); both halves keep the index order. Returns
// (remaining, carved). The same seed always gives the same split.
std::pair<DatasetIndex, DatasetIndex> split_stratified(const DatasetIndex& index, double fraction, uint64_t seed);

// Number of files per class, in class order.
std::vector<int> class_counts(const DatasetIndex& index);

}  // namespace cxr::data
