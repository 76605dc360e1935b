// The small text files of a run folder (config.yaml, reports, CSVs) and the names they use.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

namespace cxr {

// Writes `text` to `path` through a temporary file in the same folder and a rename, so a reader
// (or a crash) never sees half a file. Throws InputError naming the path when it cannot, and when the path
// is a folder or something a rename must not replace (a device, FIFO or socket).
void write_text_file(const std::filesystem::path& path, const std::string& text);

// An output folder given as `flag` (e.g. "--out") must be a folder or not exist yet: InputError
// "DIR: exists and is not a folder (FLAG names a folder)" otherwise, before any work is done.
void check_not_a_file(const std::filesystem::path& dir, const std::string& flag);

// The output folder a command fills from scratch, claimed so that two commands started at once never share it.
// The claim lasts while this object (or a copy) lives: keep it until the command is done.
struct FolderLock;  // the open, locked marker file (see the .cpp)
struct ClaimedFolder {
  std::filesystem::path dir;  // `wanted`, or WANTED-2, WANTED-3, ... when it was taken and numbering allowed
  bool created = false;       // this command made the folder (false: it claimed an existing empty one)
  std::shared_ptr<const FolderLock> lock;
};

// Claims `wanted` (its parent folders created) with a mkdir and a lock on a marker file in it (see the
// .cpp), before any work is done. When it is taken: with `numbered` (a default, timestamped name) the first
// free WANTED-N instead; otherwise (a folder the user named with FLAG) InputError "DIR: exists and is not a
// folder (FLAG names a folder)" for a file, "DIR: already exists and is not empty REASON" when it holds
// anything (nothing is overwritten or mixed in), or "DIR: another cxrnet command is using it ..." while
// another command holds its claim and has not yet written to it. An empty folder is claimed, and so is one
// that holds only the marker of a command that ended (killed while it loaded its data, say).
ClaimedFolder claim_new_folder(const std::filesystem::path& wanted, bool numbered, const std::string& flag,
                               const std::string& reason);

// Whether `path` is `dir` or lies below it, links resolved (a folder not made yet judged by its name).
bool is_within(const std::filesystem::path& path, const std::filesystem::path& dir);

// The claim on a run folder that already holds a run (train --resume): the same lock, whatever the folder
// holds. InputError "DIR: another cxrnet command is using it ..." while another command holds it.
ClaimedFolder claim_existing_folder(const std::filesystem::path& dir);

// After a command failed partway: removes what it wrote into its claimed folder (the folder itself
// when the command made it), while the claim is still held. A half-written output is worth nothing
// and would make the same --out refuse the next try as "not empty". Errors in the removal are
// ignored: they must not hide the one that brought the command here.
void remove_claimed_output(const ClaimedFolder& claimed) noexcept;

// Until disarm() or its end, SIGINT and SIGTERM first give back a claimed folder that holds nothing but
// its marker (the marker deleted, and the folder too when the command made it), then end the process as
// the signal would have (exit status 128 + signal). train holds one from its claim to its first files:
// stopped there (Ctrl-C while it loads its data, say), it left a runs/<name>-<time> folder of one hidden
// file, under a name no command uses again. The handler makes only async-signal-safe calls (unlink,
// rmdir, sigaction, raise), and rmdir removes nothing but an empty folder. A signal that was ignored
// (a background job's SIGINT) stays ignored. One at a time.
class ReleaseClaimOnSignal {
 public:
  explicit ReleaseClaimOnSignal(const ClaimedFolder& claimed);
  ~ReleaseClaimOnSignal() { disarm(); }
  ReleaseClaimOnSignal(const ReleaseClaimOnSignal&) = delete;
  ReleaseClaimOnSignal& operator=(const ReleaseClaimOnSignal&) = delete;
  void disarm();  // the previous handlers back: the folder is about to get files

 private:
  bool armed_ = false;
};

// Whether `dir` holds a claim's marker and nothing else: a command claimed it and wrote nothing (yet).
bool holds_only_a_claim(const std::filesystem::path& dir);

// One CSV field: as is, or quoted (quotes doubled) when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& s);

// Local time as 20260101-120000: default run folder names sort by when they were made.
std::string timestamp();

}  // namespace cxr
