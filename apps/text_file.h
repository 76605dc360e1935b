// The small text files of a run folder (config.yaml, reports, CSVs) and the names they use.
#pragma once
#include <filesystem>
#include <string>

namespace cxr {

// Writes `text` to `path` through a temporary file in the same folder and a rename, so a reader
// (or a crash) never sees half a file. Throws InputError naming the path when it cannot.
void write_text_file(const std::filesystem::path& path, const std::string& text);

// An output folder given as `flag` (e.g. "--out") must be a folder or not exist yet: InputError
// "DIR: exists and is not a folder (FLAG names a folder)" otherwise, before any work is done.
void check_not_a_file(const std::filesystem::path& dir, const std::string& flag);

// An output folder that a command fills from scratch: check_not_a_file, then InputError "DIR: already
// exists and is not empty REASON" when it holds anything, so nothing is overwritten or mixed in.
void check_new_folder(const std::filesystem::path& dir, const std::string& flag, const std::string& reason);

// One CSV field: as is, or quoted (quotes doubled) when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& s);

// Local time as 20260101-120000: default run folder names sort by when they were made.
std::string timestamp();

}  // namespace cxr
