// Runs the cxrnet binary itself (CXR_CLI_PATH) as a user would, for tests of exit codes and messages.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cxr::testing {

struct Result {
  int code = -1;
  std::string out, err;
};

// `args` is pasted into a shell command line: quote paths that may hold spaces. `cwd`: the folder it runs
// in (where a run without --out writes runs/), this process's when empty. `before`: shell commands run first
// in the same shell, e.g. "ulimit -f 64; " for a disk that fills.
inline Result run_cxrnet(const std::string& args, const std::filesystem::path& cwd = {},
                         const std::string& before = "") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("cxr_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string in = (cwd.empty() ? "" : "cd '" + cwd.string() + "' && ") + before;
  const std::string command = in + "'" + CXR_CLI_PATH + "' " + args + " > '" + (dir / "out").string() + "' 2> '" +
                              (dir / "err").string() + "'";
  const int status = std::system(command.c_str());
  const auto read = [](const fs::path& p) {
    std::ifstream f(p);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
  };
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read(dir / "out");
  r.err = read(dir / "err");
  fs::remove_all(dir);
  return r;
}

}  // namespace cxr::testing
