#include "apps/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <system_error>

#include "engine/error.h"

namespace cxr {

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  std::error_code ec;
  const auto fail = [&](const std::string& why) {  // nothing half-written is left behind
    std::filesystem::remove(temporary, ec);
    throw InputError("cannot write " + path.string() + ": " + why);
  };
  if (std::filesystem::is_directory(path, ec)) fail("it is a folder");
  {
    std::ofstream f(temporary, std::ios::binary | std::ios::trunc);
    if (!f) fail(std::filesystem::exists(path.parent_path().empty() ? "." : path.parent_path(), ec)
                     ? "cannot create " + temporary.string()
                     : "no folder " + path.parent_path().string());
    f << text;
    f.flush();
    if (!f) fail("writing " + temporary.string() + " failed (disk full?)");
  }
  std::filesystem::rename(temporary, path, ec);
  if (ec) fail("cannot rename " + temporary.string() + " to it: " + ec.message());
}

void check_not_a_file(const std::filesystem::path& dir, const std::string& flag) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec) || std::filesystem::is_directory(dir, ec)) return;
  throw InputError(dir.string() + ": exists and is not a folder (" + flag + " names a folder)");
}

namespace fs = std::filesystem;

namespace {

// The file that claims an output folder. A mkdir alone cannot claim a folder that exists already and is
// empty (--out may name one, or name the folder another command has just made and not filled yet), but
// creating a file with O_EXCL can: only one command succeeds. It stays, hidden and empty: the folder then
// counts as not empty for later commands, and resume, evaluate and the image scans never look at it.
constexpr const char* kClaimMarker = ".cxrnet-claim";
constexpr int kMaxNumbered = 1000;  // WANTED-2 ... WANTED-1000: beyond that, something is wrong

// One mkdir: true when this call made the folder, false when something has the name already.
bool make_folder(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0777) == 0) return true;
  const int error = errno;
  if (error == EEXIST) return false;
  throw InputError("cannot create folder " + dir.string() + ": " + std::strerror(error));
}

bool holds_other_than(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename() != name) return true;
  return false;
}

enum class Claim { ours, taken, not_empty };

// Creates the marker in the folder `dir`; the folder must then hold nothing else.
Claim take_folder(const fs::path& dir) {
  const fs::path marker = dir / kClaimMarker;
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  const int open_error = errno;
  if (fd < 0 && open_error != EEXIST)
    throw InputError("cannot claim " + dir.string() + ": cannot create " + marker.string() + ": " +
                     std::strerror(open_error));
  if (fd >= 0) ::close(fd);
  if (holds_other_than(dir, kClaimMarker)) {
    std::error_code ec;
    if (fd >= 0) fs::remove(marker, ec);  // not ours to take: leave the folder as it was
    return Claim::not_empty;
  }
  return fd >= 0 ? Claim::ours : Claim::taken;
}

// A default name is taken by a command started in the same second: number this one instead. An existing
// folder is never a default name's, even when empty: its command may still be loading data.
ClaimedFolder claim_numbered(const fs::path& dir, const std::string& flag) {
  for (int n = 1; n <= kMaxNumbered; ++n) {
    const fs::path candidate = n == 1 ? dir : fs::path(dir.string() + "-" + std::to_string(n));
    if (make_folder(candidate) && take_folder(candidate) == Claim::ours) return {candidate, true};
  }
  throw InputError(dir.string() + " and " + dir.string() + "-2 to -" + std::to_string(kMaxNumbered) +
                   " exist already: give " + flag + " DIR");
}

}  // namespace

ClaimedFolder claim_new_folder(const fs::path& wanted, bool numbered, const std::string& flag,
                               const std::string& reason) {
  const fs::path dir = wanted.has_filename() ? wanted : wanted.parent_path();  // "out/" is "out"
  if (dir.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    if (ec) throw InputError("cannot create folder " + dir.parent_path().string() + ": " + ec.message());
  }
  if (numbered) return claim_numbered(dir, flag);
  const bool created = make_folder(dir);
  if (!created) check_not_a_file(dir, flag);
  switch (take_folder(dir)) {
    case Claim::ours: return {dir, created};
    case Claim::not_empty: throw InputError(dir.string() + ": already exists and is not empty " + reason);
    case Claim::taken: break;
  }
  throw InputError(dir.string() + ": another cxrnet command claimed it (" + (dir / kClaimMarker).string() +
                   "): pick another " + flag + ", or remove that file if no cxrnet command is running");
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y%m%d-%H%M%S");
  return s.str();
}

}  // namespace cxr
