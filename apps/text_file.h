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

// The output folder a command fills from scratch, claimed so that two commands started at once never share it.
struct ClaimedFolder {
  std::filesystem::path dir;  // `wanted`, or WANTED-2, WANTED-3, ... when it was taken and numbering allowed
  bool created = false;       // this command made the folder (false: it claimed an existing empty one)
};

// Claims `wanted` (its parent folders created) with a mkdir and a marker file that only one command can
// create (see the .cpp), before any work is done. When it is taken: with `numbered` (a default, timestamped
// name) the first free WANTED-N instead; otherwise (a folder the user named with FLAG) InputError
// "DIR: exists and is not a folder (FLAG names a folder)" for a file, "DIR: already exists and is not empty
// REASON" when it holds anything (nothing is overwritten or mixed in), or "DIR: another cxrnet command
// claimed it ..." when another command has claimed it and not yet written to it. An empty folder is claimed.
ClaimedFolder claim_new_folder(const std::filesystem::path& wanted, bool numbered, const std::string& flag,
                               const std::string& reason);

// One CSV field: as is, or quoted (quotes doubled) when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& s);

// Local time as 20260101-120000: default run folder names sort by when they were made.
std::string timestamp();

}  // namespace cxr
