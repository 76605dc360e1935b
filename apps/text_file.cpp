#include "apps/text_file.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
  // The process id keeps two commands writing the same file at once from sharing (and renaming away)
  // one temporary file: the last rename wins, whole.
  std::filesystem::path temporary = path;
  temporary += ".tmp" + std::to_string(::getpid());
  std::error_code ec;
  const auto fail = [&](const std::string& why) {  // nothing half-written is left behind
    std::filesystem::remove(temporary, ec);
    throw InputError("cannot write " + path.string() + ": " + why);
  };
  const std::filesystem::file_status target = std::filesystem::status(path, ec);  // through a link
  if (std::filesystem::is_directory(target)) fail("it is a folder");
  // The rename would replace a device, FIFO or socket (as root, /dev/full itself) by a plain file.
  if (std::filesystem::exists(target) && !std::filesystem::is_regular_file(target))
    fail("it is not a regular file (a device, FIFO or socket)");
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

// The file that claims an output folder, by an exclusive flock on it. A mkdir alone cannot claim a folder
// that exists already and is empty (--out may name one, or name the folder another command has just made
// and not filled yet); a lock can, and the kernel drops it when its process ends, however it ends, so a
// command killed while loading its data leaves no claim behind. The file stays, hidden and empty: the folder
// then counts as not empty for later commands, and resume, evaluate and the image scans never look at it.
constexpr const char* kClaimMarker = ".cxrnet-claim";
constexpr int kMaxNumbered = 1000;  // WANTED-2 ... WANTED-1000: beyond that, something is wrong

// One mkdir: true when this call made the folder, false when something has the name already.
bool make_folder(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0777) == 0) return true;
  const int error = errno;
  if (error == EEXIST) return false;
  throw InputError("cannot create folder " + dir.string() + ": " + std::strerror(error));
}

// Whether `dir` holds anything but `name`; a folder that cannot be read counts as holding something.
bool holds_other_than(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return true;
  for (; it != end; it.increment(ec)) {
    if (ec) return true;
    if (it->path().filename() != name) return true;
  }
  return false;
}

enum class Claim { ours, taken, not_empty };

}  // namespace

// The marker's descriptor: closing it drops the lock.
struct FolderLock {
  explicit FolderLock(int descriptor) : fd(descriptor) {}
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock() { ::close(fd); }
  const int fd;
};

namespace {

// Locks the marker in `dir` (creating it if need be); unless `any_contents`, the folder must then hold
// nothing else.
Claim take_folder(const fs::path& dir, std::shared_ptr<const FolderLock>& lock, bool any_contents = false) {
  const fs::path marker = dir / kClaimMarker;
  bool made_marker = true;
  int fd = ::open(marker.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    made_marker = false;
    fd = ::open(marker.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd < 0)
    throw InputError("cannot claim " + dir.string() + ": cannot open " + marker.string() + ": " +
                     std::strerror(errno));
  auto held = std::make_shared<const FolderLock>(fd);
  // EWOULDBLOCK: a live command holds it. A file system without locks (ENOLCK, ENOSYS) leaves the
  // mkdir as the only guard, which still keeps apart commands that make their folders.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) return Claim::taken;
  if (!any_contents && holds_other_than(dir, kClaimMarker)) {
    std::error_code ec;
    if (made_marker) fs::remove(marker, ec);  // not ours to take: leave the folder as it was
    return Claim::not_empty;
  }
  lock = std::move(held);
  return Claim::ours;
}

// A default name is taken by a command started in the same second: number this one instead. An existing
// folder is never a default name's, even when empty: its command may still be loading data.
ClaimedFolder claim_numbered(const fs::path& dir, const std::string& flag) {
  for (int n = 1; n <= kMaxNumbered; ++n) {
    const fs::path candidate = n == 1 ? dir : fs::path(dir.string() + "-" + std::to_string(n));
    if (!make_folder(candidate)) continue;
    std::shared_ptr<const FolderLock> lock;
    if (take_folder(candidate, lock) == Claim::ours) return {candidate, true, std::move(lock)};
    // Made here but not won: a command given this very name as --out took it. It is that one's now.
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
  std::shared_ptr<const FolderLock> lock;
  switch (take_folder(dir, lock)) {
    case Claim::ours: return {dir, created, std::move(lock)};
    case Claim::not_empty: throw InputError(dir.string() + ": already exists and is not empty " + reason);
    case Claim::taken: break;
  }
  throw InputError(dir.string() + ": another cxrnet command is using it (it holds the lock on " +
                   (dir / kClaimMarker).string() + "): pick another " + flag);
}

ClaimedFolder claim_existing_folder(const fs::path& dir) {
  std::shared_ptr<const FolderLock> lock;
  if (take_folder(dir, lock, true) == Claim::ours) return {dir, false, std::move(lock)};
  throw InputError(dir.string() + ": another cxrnet command is using it (it holds the lock on " +
                   (dir / kClaimMarker).string() + ")");
}

void remove_claimed_output(const ClaimedFolder& claimed) noexcept {
  std::error_code ec;
  if (claimed.created) {
    std::filesystem::remove_all(claimed.dir, ec);
    return;
  }
  for (const auto& entry : std::filesystem::directory_iterator(claimed.dir, ec))
    std::filesystem::remove_all(entry.path(), ec);
}

namespace {

// What the handler removes, copied before it is installed (it may not allocate). Empty: nothing.
char g_release_marker[PATH_MAX], g_release_dir[PATH_MAX];
struct sigaction g_before_int, g_before_term;
bool g_release_armed = false;

extern "C" void release_claim_and_stop(int signal) {
  if (g_release_marker[0]) ::unlink(g_release_marker);
  if (g_release_dir[0]) ::rmdir(g_release_dir);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(signal, &default_action, nullptr);
  ::raise(signal);  // blocked until this handler returns, then ends the process as the signal does
}

void copy_path(const fs::path& path, char (&to)[PATH_MAX]) {
  const std::string& text = path.native();
  to[0] = '\0';
  if (text.size() < PATH_MAX) std::memcpy(to, text.c_str(), text.size() + 1);  // longer: left alone
}

}  // namespace

ReleaseClaimOnSignal::ReleaseClaimOnSignal(const ClaimedFolder& claimed) {
  CXR_ASSERT(!g_release_armed, "ReleaseClaimOnSignal: one at a time");
  copy_path(claimed.dir / kClaimMarker, g_release_marker);
  if (claimed.created) copy_path(claimed.dir, g_release_dir);
  struct sigaction action {};
  action.sa_handler = release_claim_and_stop;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGINT);  // one handler run at a time, whichever signal came first
  sigaddset(&action.sa_mask, SIGTERM);
  ::sigaction(SIGINT, nullptr, &g_before_int);
  ::sigaction(SIGTERM, nullptr, &g_before_term);
  if (g_before_int.sa_handler != SIG_IGN) ::sigaction(SIGINT, &action, nullptr);
  if (g_before_term.sa_handler != SIG_IGN) ::sigaction(SIGTERM, &action, nullptr);
  armed_ = g_release_armed = true;
}

void ReleaseClaimOnSignal::disarm() {
  if (!armed_) return;
  ::sigaction(SIGINT, &g_before_int, nullptr);
  ::sigaction(SIGTERM, &g_before_term, nullptr);
  g_release_marker[0] = g_release_dir[0] = '\0';
  armed_ = g_release_armed = false;
}

bool holds_only_a_claim(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / kClaimMarker, ec) && !holds_other_than(dir, kClaimMarker);
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

bool is_within(const fs::path& path, const fs::path& dir) {
  const fs::path p = fs::weakly_canonical(path), d = fs::weakly_canonical(dir);
  return std::mismatch(d.begin(), d.end(), p.begin(), p.end()).first == d.end();
}

}  // namespace cxr
