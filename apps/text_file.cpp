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
  {
    std::ofstream f(temporary, std::ios::binary | std::ios::trunc);
    CXR_CHECK(f, "cannot write " << temporary.string());
    f << text;
    f.flush();
    CXR_CHECK(f, "cannot write " << temporary.string() << " (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  CXR_CHECK(!ec, "cannot rename " << temporary.string() << " to " << path.string() << ": " << ec.message());
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
