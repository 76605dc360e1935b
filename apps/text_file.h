// Writing the small text files of a run folder (config.yaml, reports, CSVs).
#pragma once
#include <filesystem>
#include <string>

namespace cxr {

// Writes `text` to `path` through a temporary file in the same folder and a rename, so a reader
// (or a crash) never sees half a file. Throws InputError naming the path when it cannot.
void write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace cxr
