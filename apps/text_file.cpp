#include "apps/text_file.h"

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

void check_new_folder(const std::filesystem::path& dir, const std::string& flag, const std::string& reason) {
  check_not_a_file(dir, flag);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec))
    throw InputError(dir.string() + ": already exists and is not empty " + reason);
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
