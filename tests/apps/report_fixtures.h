// Reading the fixtures that tools/fixtures/make_report_fixtures.py wrote from the real scikit-learn
// and Keras output (tests/apps/fixtures/report/).
#pragma once
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace cxr::report::testing {

inline std::string read_fixture(const std::string& name) {
  const std::string path = std::string(CXR_SOURCE_DIR) + "/tests/apps/fixtures/report/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

}  // namespace cxr::report::testing
