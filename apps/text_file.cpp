#include "apps/text_file.h"

#include <fstream>
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

}  // namespace cxr
