// write_text_file (CSV and reports): written through a temporary file and a rename, and on failure
// a plain error naming the file and why, with no temporary file left behind. claim_new_folder: one
// output folder per command, even for commands started at once.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "apps/text_file.h"
#include "engine/error.h"
#include "tests/layers/config_error.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

std::string error_of(const fs::path& path) {
  try {
    write_text_file(path, "a,b\n");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(WriteTextFile, WritesAndRefusesAFolderOrAMissingFolderLeavingNothing) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_text_file_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "taken");
  write_text_file(dir / "ok.csv", "a,b\n");
  std::ifstream in(dir / "ok.csv");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "a,b\n");

  EXPECT_EQ(error_of(dir / "taken"), "cannot write " + (dir / "taken").string() + ": it is a folder");
  EXPECT_EQ(error_of(dir / "missing" / "x.csv"),
            "cannot write " + (dir / "missing" / "x.csv").string() + ": no folder " + (dir / "missing").string());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);  // no temporary file left
  fs::remove_all(dir);
}

// The rename would put a plain file where a device, FIFO or socket was (a probe's --out /dev/full, as
// root, replaced the device node): such a target is refused and left as it was. A FIFO stands for them.
TEST(WriteTextFile, RefusesToReplaceAFifoAndLeavesIt) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_text_fifo_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0644), 0);
  EXPECT_EQ(error_of(dir / "fifo"),
            "cannot write " + (dir / "fifo").string() + ": it is not a regular file (a device, FIFO or socket)");
  EXPECT_TRUE(fs::is_fifo(dir / "fifo"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // no temporary file left
  // A link to a regular file is replaced by the file, as before.
  std::ofstream(dir / "target.csv") << "old";
  fs::create_symlink(dir / "target.csv", dir / "link.csv");
  write_text_file(dir / "link.csv", "a,b\n");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dir / "link.csv")));
  fs::remove_all(dir);
}

// Two commands writing the same file at once (two evaluations of one run) each write their own temporary
// file: neither truncates, nor renames away, the other's.
TEST(WriteTextFile, LeavesAnotherCommandsTemporaryFileAlone) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_text_tmp_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* other : {"report.txt.tmp", "report.txt.tmp1"}) std::ofstream(dir / other) << "another's half";
  write_text_file(dir / "report.txt", "mine\n");
  std::ifstream in(dir / "report.txt");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "mine\n");
  for (const char* other : {"report.txt.tmp", "report.txt.tmp1"}) {
    std::ifstream f(dir / other);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), "another's half") << other;
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 3);
  fs::remove_all(dir);
}


class ClaimNewFolder : public ::testing::Test {
 protected:
  void SetUp() override { fs::remove_all(root_); }
  void TearDown() override { fs::remove_all(root_); }
  static ClaimedFolder claim(const fs::path& wanted, bool numbered) {
    return claim_new_folder(wanted, numbered, "--out", "(never mixed)");
  }
  static std::string claim_error(const fs::path& wanted) {
    return testing::input_error_of([&] { claim(wanted, false); });
  }
  const fs::path root_ = fs::temp_directory_path() / ("cxr_claim_" + std::to_string(::getpid()));
};

// Two runs started within one second want the same runs/<name>-<time>: the second one is numbered.
TEST_F(ClaimNewFolder, ATakenDefaultNameIsNumbered) {
  const fs::path wanted = root_ / "runs" / "tiny-20260101-120000";  // runs/ is created too
  const ClaimedFolder first = claim(wanted, true), second = claim(wanted, true);
  EXPECT_EQ(first.dir, wanted);
  EXPECT_EQ(second.dir, root_ / "runs" / "tiny-20260101-120000-2");
  EXPECT_TRUE(first.created && second.created);
  EXPECT_TRUE(fs::is_directory(first.dir) && fs::is_directory(second.dir));
  // An empty folder is not free either: the run that made it may still be loading its data.
  fs::create_directories(root_ / "runs" / "empty");
  EXPECT_EQ(claim(root_ / "runs" / "empty", true).dir, root_ / "runs" / "empty-2");
}

// A folder named with --out: new or empty, and a second command given it (while the first one is
// still loading its data, before writing anything) is refused.
TEST_F(ClaimNewFolder, ANamedFolderMustBeNewOrEmptyAndIsClaimedOnce) {
  const auto taken = [](const fs::path& dir) {
    return dir.string() + ": another cxrnet command is using it (it holds the lock on " +
           (dir / ".cxrnet-claim").string() + "): pick another --out";
  };
  const ClaimedFolder made = claim(root_ / "new", false);
  EXPECT_EQ(made.dir, root_ / "new");
  EXPECT_TRUE(made.created);
  EXPECT_EQ(claim_error(root_ / "new"), taken(root_ / "new"));

  fs::create_directories(root_ / "empty");
  const ClaimedFolder empty = claim(root_ / "empty", false);
  EXPECT_EQ(empty.dir, root_ / "empty");
  EXPECT_FALSE(empty.created);  // so a failed run empties it rather than removing it
  EXPECT_EQ(claim_error(root_ / "empty"), taken(root_ / "empty"));

  const fs::path full = root_ / "full";
  fs::create_directories(full);
  std::ofstream(full / "weights.safetensors") << "another run's";
  EXPECT_EQ(claim_error(full), full.string() + ": already exists and is not empty (never mixed)");
  EXPECT_EQ(std::distance(fs::directory_iterator(full), fs::directory_iterator()), 1);  // left as it was

  std::ofstream(root_ / "file") << "keep me";
  EXPECT_EQ(claim_error(root_ / "file"),
            (root_ / "file").string() + ": exists and is not a folder (--out names a folder)");
}

// What `threads` commands claiming `wanted` at the same moment get; "" for those refused. Every claim
// is held until all have tried, as each command holds its own until it ends.
std::vector<std::string> claim_at_once(const fs::path& wanted, bool numbered, int threads) {
  std::vector<ClaimedFolder> claims(static_cast<size_t>(threads));
  std::vector<std::string> got(static_cast<size_t>(threads));
  std::atomic<int> ready = 0;
  std::vector<std::thread> running;
  for (int i = 0; i < threads; ++i)
    running.emplace_back([&, i] {
      for (++ready; ready < threads;) std::this_thread::yield();  // all start together
      try {
        claims[static_cast<size_t>(i)] = claim_new_folder(wanted, numbered, "--out", "");
        got[static_cast<size_t>(i)] = claims[static_cast<size_t>(i)].dir.string();
      } catch (const InputError&) {
      }
    });
  for (std::thread& t : running) t.join();
  return got;
}

TEST_F(ClaimNewFolder, CommandsStartedAtOnceNeverShareAFolder) {
  for (int round = 0; round < 20; ++round) {  // a race shows up in some rounds only
    const fs::path dir = root_ / std::to_string(round);
    const std::vector<std::string> defaults = claim_at_once(dir / "runs" / "tiny-20260101-120000", true, 8);
    const std::set<std::string> distinct(defaults.begin(), defaults.end());
    EXPECT_EQ(distinct.size(), 8u) << "round " << round;
    for (const std::string& d : defaults) EXPECT_TRUE(!d.empty() && fs::is_directory(d)) << d;

    fs::create_directories(dir / "empty");
    for (const fs::path& named : {dir / "new", dir / "empty"}) {
      const std::vector<std::string> got = claim_at_once(named, false, 8);
      EXPECT_EQ(std::count(got.begin(), got.end(), named.string()), 1) << named << " round " << round;
    }
  }
}

// A claim lasts as long as its command: when the command ends, however it ends (here a child process
// killed with SIGKILL while it holds the claim, so no destructor runs), the folder, holding only the
// marker, is free again; and the same folder is not claimed twice while its command lives.
TEST_F(ClaimNewFolder, AClaimEndsWithItsCommandHoweverItEnds) {
  const fs::path dir = root_ / "out";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the command that gets killed while it loads its data
    const ClaimedFolder held = claim(dir, false);
    const char byte = 'k';
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  pollfd wait_for_child{ready[0], POLLIN, 0};  // bounded: a child stuck after the fork fails the test, not CI
  if (::poll(&wait_for_child, 1, 20000) != 1) ::kill(child, SIGKILL);
  char byte = 0;
  const bool child_claimed = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  if (!child_claimed) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    FAIL() << "the child process did not claim " << dir;
  }
  EXPECT_NE(claim_error(dir).find("another cxrnet command is using it"), std::string::npos);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  const ClaimedFolder after = claim(dir, false);
  EXPECT_EQ(after.dir, dir);
  EXPECT_FALSE(after.created);  // the killed command made it
  EXPECT_NE(claim_error(dir).find("another cxrnet command is using it"), std::string::npos);
}

// train --resume holds the same lock on a folder that holds a run: two resumes of one run never
// write into it at once, and a fresh claim of a run folder that is resumed is refused.
TEST_F(ClaimNewFolder, AResumedRunFolderIsClaimedOnce) {
  const fs::path run = root_ / "run";
  fs::create_directories(run);
  std::ofstream(run / "config.yaml") << "name: x\n";
  {
    const ClaimedFolder resumed = claim_existing_folder(run);
    EXPECT_EQ(resumed.dir, run);
    EXPECT_EQ(testing::input_error_of([&] { claim_existing_folder(run); }),
              run.string() + ": another cxrnet command is using it (it holds the lock on " +
                  (run / ".cxrnet-claim").string() + ")");
  }
  EXPECT_EQ(claim_existing_folder(run).dir, run);  // the first one ended
  EXPECT_TRUE(fs::exists(run / "config.yaml"));
}

}  // namespace
}  // namespace cxr
