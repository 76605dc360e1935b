#include "layers/spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string_view>

namespace cxr {
namespace {

// yaml-cpp marks are 0-based; editors and compilers count from 1.
std::string position(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// yaml-cpp tags a quoted scalar "!" and a plain one "?": "16" is a string, 16 a number.
bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

// What the user wrote, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  if (is_quoted(node)) return "the quoted string '" + node.Scalar() + "'";
  return "'" + node.Scalar() + "'";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// from_chars accepts exactly the decimal forms we allow (no spaces, hex or '_'); it only lacks
// YAML's optional leading '+', which is stripped here.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
  if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) return std::nullopt;  // inf/nan make no sense in a config
  }
  return value;
}

// The shortest decimal that reads back as the same double: 0.02, 0.0078125, 3e-06.
std::string shortest(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// YAML has no arithmetic, so `rescale: 1/50` is the string "1/50". Say so, with the number to
// write instead when the expression is a simple a/b.
std::string expression_hint(std::string_view text) {
  text = trim(text);
  if (text.find_first_of("*/") == std::string_view::npos) return "";
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos && text.find('/', slash + 1) == std::string_view::npos) {
    const auto numerator = parse_number<double>(trim(text.substr(0, slash)));
    const auto denominator = parse_number<double>(trim(text.substr(slash + 1)));
    if (numerator && denominator && *denominator != 0) {
      return " (expressions are not supported: write " + shortest(*numerator / *denominator) + ")";
    }
  }
  return " (expressions are not supported: write the value as a decimal number)";
}

// The text of a plain scalar that should hold a number; anything else fails naming `expected`.
std::string number_text(const SpecNode& node, const std::string& expected) {
  const YAML::Node& yaml = node.yaml();
  if (!yaml.IsDefined() || !yaml.IsScalar()) {
    node.fail("expected " + expected + ", got " + describe(yaml));
  }
  if (is_quoted(yaml)) {
    node.fail("expected " + expected + ", got " + describe(yaml) + " (write numbers without quotes)");
  }
  return yaml.Scalar();
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : ", ") + word;
  return out;
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Optimal string alignment distance: Levenshtein plus the swap of two neighbours (Dnese).
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// A config is a few levels deep and a few hundred nodes. YAML aliases can make a node its own child
// (`a: &a [*a]`, a walk without end: the stack overflowed) or multiply a short file into millions
// of nodes ("billion laughs": 100 s to walk). Both are refused where the walk passes the limit.
constexpr int kMaxDepth = 32;
constexpr int64_t kMaxNodes = 100'000;

// yaml-cpp accepts duplicate keys silently (lookups see the first); a config must not.
void check_structure(const SpecNode& node, const std::shared_ptr<const std::string>& file, int depth,
                     int64_t& nodes) {
  if (depth > kMaxDepth)
    node.fail("nested more than " + std::to_string(kMaxDepth) + " levels deep (an alias to itself?)");
  if (++nodes > kMaxNodes)
    node.fail("more than " + std::to_string(kMaxNodes) + " YAML nodes in all (aliases expanding into each other?)");
  const YAML::Node& yaml = node.yaml();
  if (yaml.IsMap()) {
    std::vector<std::pair<std::string, YAML::Mark>> seen;
    for (auto it = yaml.begin(); it != yaml.end(); ++it) {
      const SpecNode key(it->first, file, node.path());
      if (!it->first.IsScalar()) key.fail("map keys must be plain names, got " + describe(it->first));
      const std::string& name = it->first.Scalar();
      const auto first =
          std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == name; });
      if (first != seen.end()) {
        key.fail("duplicate key '" + name + "' (first at line " + std::to_string(first->second.line + 1) +
                 ")");
      }
      seen.emplace_back(name, it->first.Mark());
    }
    for (const auto& name : node.keys()) check_structure(node.child(name), file, depth + 1, nodes);
  } else if (yaml.IsSequence()) {
    for (const auto& item : node.items()) check_structure(item, file, depth + 1, nodes);
  }
}

// The first line (1-based) indented with a tab, or 0. YAML indents with spaces only, and yaml-cpp's
// errors for a tab ("illegal map value", "end of map not found") do not say so.
size_t tab_indented_line(const std::string& text) {
  size_t line = 1;
  for (size_t start = 0; start < text.size(); ++line) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const size_t content = text.find_first_not_of(" \t", start);
    if (content < end && text.find('\t', start) < content) return line;
    start = end + 1;
  }
  return 0;
}

}  // namespace

SpecNode::SpecNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path)
    : SpecNode(node, std::move(file), std::move(path), node.Mark()) {}

SpecNode::SpecNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path,
                   YAML::Mark mark)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), mark_(mark) {}

SpecNode SpecNode::load_file(const std::string& path) {
  // A folder reads as nothing, /dev/zero as bytes without end (bad_alloc), a FIFO blocks the open:
  // only a regular file (or a link to one) of a config's size is read. A missing one: the open says so.
  constexpr std::uintmax_t kMaxBytes = 16u << 20;
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (std::filesystem::is_directory(st)) throw ConfigError(path + ": is a folder, not a config file");
  if (std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    throw ConfigError(path + ": not a regular file (a device, FIFO or socket), not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open the file");
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxBytes) throw ConfigError(path + ": larger than 16 MiB, too large for a config file");
  }
  if (in.bad()) throw ConfigError(path + ": cannot read the file");
  return load_string(text, path);
}

SpecNode SpecNode::load_string(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    // Every document, to refuse a second one: YAML::Load reads the first and dropped the rest unread.
    const std::vector<YAML::Node> documents = YAML::LoadAll(text);
    if (documents.size() > 1)
      throw ConfigError(position(name, documents[1].Mark()) + ": a second YAML document (after '---'); a config is "
                        "one document");
    if (!documents.empty()) root = documents[0];
  } catch (const YAML::Exception& error) {
    if (const size_t tab = tab_indented_line(text))  // the likely cause, named instead
      throw ConfigError(name + ":" + std::to_string(tab) + ": a tab character in the indentation; YAML indents with "
                        "spaces");
    throw ConfigError(position(name, error.mark) + ": " + error.msg);
  }
  const auto file = std::make_shared<const std::string>(name);
  SpecNode spec(root, file, "");
  int64_t nodes = 0;
  check_structure(spec, file, 0, nodes);
  return spec;
}

float SpecNode::get_float(const std::string& key, double fallback, bool positive) const {
  return has(key) ? get_float(key, positive) : static_cast<float>(fallback);
}

float SpecNode::get_float(const std::string& key, bool positive) const {
  const double value = get_double(key);
  const auto f = static_cast<float>(value);
  if (!std::isfinite(f)) child(key).fail(shortest(value) + " is not a finite float32 (at most about 3.4e38)");
  if (positive && !(f > 0.0f))
    child(key).fail(value > 0 ? shortest(value) + " rounds to 0 as a float32 (the smallest is about 1.4e-45)"
                              : "must be positive");
  return f;
}

std::string SpecNode::get_path(const std::string& key) const {
  namespace fs = std::filesystem;
  const std::string path = get_string(key);
  const fs::path beside_config = fs::path(file()).parent_path() / path;
  std::error_code ec;
  if (fs::path(path).is_relative() && !fs::exists(path, ec) && fs::exists(beside_config, ec))
    return beside_config.string();
  return path;
}

const std::string& SpecNode::file() const {
  static const std::string unnamed = "<config>";
  return file_ ? *file_ : unnamed;
}

std::string SpecNode::where() const { return position(file(), mark_); }

void SpecNode::fail(const std::string& message) const {
  throw ConfigError(where() + ": " + (path_.empty() ? "" : path_ + ": ") + message);
}

bool SpecNode::find(const std::string& key, YAML::Node& key_node, YAML::Node& value) const {
  if (!node_.IsDefined() || !node_.IsMap()) return false;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      key_node = it->first;
      value = it->second;
      return true;
    }
  }
  return false;
}

bool SpecNode::has(const std::string& key) const {
  YAML::Node key_node, value;
  return find(key, key_node, value);
}

std::string SpecNode::type_context() const {
  YAML::Node key_node, value;
  if (find("type", key_node, value) && value.IsScalar()) return " in " + value.Scalar();
  return "";
}

SpecNode SpecNode::child(const std::string& key) const {
  if (!node_.IsDefined() || !node_.IsMap()) {
    fail("expected a map with '" + key + "', got " + describe(node_));
  }
  YAML::Node key_node, value;
  if (!find(key, key_node, value)) {
    const std::string typo = nearest_name(key, keys());
    fail("missing required key '" + key + "'" + type_context() +
         (typo.empty() ? "" : " (found '" + typo + "': a typo?)"));
  }
  const std::string child_path = path_.empty() ? key : path_ + "." + key;
  // An empty value (`key:`) is marked where the next token starts, often the next line.
  const YAML::Mark mark = value.IsNull() ? key_node.Mark() : value.Mark();
  return SpecNode(value, file_, child_path, mark);
}

std::vector<SpecNode> SpecNode::items() const {
  if (!node_.IsDefined() || !node_.IsSequence()) fail("expected a list, got " + describe(node_));
  std::vector<SpecNode> out;
  for (size_t i = 0; i < node_.size(); ++i) {
    out.emplace_back(node_[i], file_, path_ + "[" + std::to_string(i) + "]");
  }
  return out;
}

std::vector<std::string> SpecNode::keys() const {
  if (!node_.IsDefined() || !node_.IsMap()) fail("expected a map, got " + describe(node_));
  std::vector<std::string> out;
  for (auto it = node_.begin(); it != node_.end(); ++it) out.push_back(it->first.Scalar());
  return out;
}

void SpecNode::check_keys(const std::vector<std::string>& allowed) const {
  if (!node_.IsDefined() || !node_.IsMap()) fail("expected a map, got " + describe(node_));
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string& name = it->first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    // Reported at the key, but under this map's path: the key itself has no path yet.
    SpecNode(it->first, file_, path_, it->first.Mark())
        .fail("unknown key '" + name + "'" + type_context() + did_you_mean(name, allowed) +
              "; allowed: " + join(allowed));
  }
}

int SpecNode::as_int() const {
  const std::string text = number_text(*this, "an integer");
  const auto value = parse_number<long long>(text);
  if (!value) fail("expected an integer, got '" + text + "'");
  if (*value < std::numeric_limits<int>::min() || *value > std::numeric_limits<int>::max()) {
    fail("integer '" + text + "' is out of range");
  }
  return static_cast<int>(*value);
}

std::uint64_t SpecNode::as_uint64() const {
  const std::string text = number_text(*this, "a non-negative integer");
  const auto value = parse_number<std::uint64_t>(text);
  if (!value) fail("expected a non-negative integer below 2^64, got '" + text + "'");
  return *value;
}

double SpecNode::as_double() const {
  const std::string text = number_text(*this, "a number");
  const auto value = parse_number<double>(text);
  if (!value) fail("expected a number, got '" + text + "'" + expression_hint(text));
  return *value;
}

std::string SpecNode::as_string() const {
  if (!node_.IsDefined() || !node_.IsScalar()) fail("expected a string, got " + describe(node_));
  return node_.Scalar();
}

bool SpecNode::as_bool() const {
  const std::string expected = "true or false";
  if (!node_.IsDefined() || !node_.IsScalar() || is_quoted(node_)) {
    fail("expected " + expected + ", got " + describe(node_));
  }
  const std::string& text = node_.Scalar();
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  fail("expected " + expected + ", got '" + text + "'");
}

std::optional<SpecNode> SpecNode::optional_child(const std::string& key) const {
  if (is_null()) return std::nullopt;  // an empty section: every optional key is absent
  if (!is_map()) fail("expected a map with '" + key + "', got " + describe(node_));
  if (!has(key)) return std::nullopt;
  return child(key);
}

std::pair<int, int> SpecNode::as_int_pair() const {
  if (is_scalar()) {
    const int both = as_int();
    return {both, both};
  }
  if (!is_sequence() || node_.size() != 2) {
    fail("expected an integer or a list of 2 integers, got " + describe(node_));
  }
  const auto pair = items();
  return {pair[0].as_int(), pair[1].as_int()};
}

int SpecNode::get_int(const std::string& key) const { return child(key).as_int(); }
int SpecNode::get_int(const std::string& key, int fallback) const {
  const auto value = optional_child(key);
  return value ? value->as_int() : fallback;
}
std::uint64_t SpecNode::get_uint64(const std::string& key, std::uint64_t fallback) const {
  const auto value = optional_child(key);
  return value ? value->as_uint64() : fallback;
}
double SpecNode::get_double(const std::string& key) const { return child(key).as_double(); }
double SpecNode::get_double(const std::string& key, double fallback) const {
  const auto value = optional_child(key);
  return value ? value->as_double() : fallback;
}
std::string SpecNode::get_string(const std::string& key) const { return child(key).as_string(); }
std::string SpecNode::get_string(const std::string& key, const std::string& fallback) const {
  const auto value = optional_child(key);
  return value ? value->as_string() : fallback;
}
bool SpecNode::get_bool(const std::string& key) const { return child(key).as_bool(); }
bool SpecNode::get_bool(const std::string& key, bool fallback) const {
  const auto value = optional_child(key);
  return value ? value->as_bool() : fallback;
}
std::pair<int, int> SpecNode::get_int_pair(const std::string& key) const { return child(key).as_int_pair(); }
std::pair<int, int> SpecNode::get_int_pair(const std::string& key, std::pair<int, int> fallback) const {
  const auto value = optional_child(key);
  return value ? value->as_int_pair() : fallback;
}

std::vector<int> SpecNode::get_int_list(const std::string& key) const {
  std::vector<int> out;
  for (const auto& item : child(key).items()) out.push_back(item.as_int());
  return out;
}

std::vector<std::string> SpecNode::get_string_list(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& item : child(key).items()) out.push_back(item.as_string());
  return out;
}

std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string needle = lowercase(word);
  const std::string* best = nullptr;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto& candidate : candidates) {
    const size_t distance = edit_distance(needle, lowercase(candidate));
    if (distance < best_distance) {
      best_distance = distance;
      best = &candidate;
    }
  }
  const size_t limit = std::max<size_t>(2, needle.size() / 3);
  if (best && best_distance <= limit && best_distance < needle.size()) return *best;
  // Shortened names (BatchNorm, MaxPool, zoom) are far by edits but plainly meant.
  best = nullptr;
  if (needle.size() >= 3) {
    for (const auto& candidate : candidates) {
      if (lowercase(candidate).starts_with(needle) && (!best || candidate.size() < best->size())) {
        best = &candidate;
      }
    }
  }
  return best ? *best : "";
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string name = nearest_name(word, candidates);
  return name.empty() ? "" : " (did you mean '" + name + "'?)";
}

}  // namespace cxr
