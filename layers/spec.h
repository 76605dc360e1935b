// SpecNode: a YAML node that remembers where it came from, so that every mistake in a config
// (unknown key, wrong type, missing value) is reported as "FILE:LINE:COL: PATH: what is wrong".
// Only yaml-cpp and the standard library: both apps/ and layers/ read their configs through it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cxr {

// A mistake in a config file. The message starts with "FILE:LINE:COL: " (1-based).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SpecNode {
 public:
  SpecNode() = default;
  // `path` names the node for messages, e.g. "model.layers[3]"; "" is the document root.
  SpecNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path);

  // Parse errors and duplicate map keys become ConfigErrors with the position in the file.
  static SpecNode load_file(const std::string& path);
  // `name` stands in for the file name in messages.
  static SpecNode load_string(const std::string& text, const std::string& name);

  const YAML::Node& yaml() const { return node_; }
  const std::string& file() const;  // the file name given to load_file/load_string
  std::string where() const;        // "configs/experiment1.yaml:12:7"
  const std::string& path() const { return path_; }

  bool has(const std::string& key) const;  // false when this node is not a map
  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_null() const { return !node_.IsDefined() || node_.IsNull(); }

  SpecNode child(const std::string& key) const;  // required: missing -> ConfigError here
  std::vector<SpecNode> items() const;           // this node must be a sequence
  std::vector<std::string> keys() const;         // map keys in file order

  // This node's own value. Numbers must be plain (unquoted) YAML scalars; expressions such as
  // 1/50 are not evaluated, and the error suggests the decimal to write instead.
  int as_int() const;
  std::uint64_t as_uint64() const;
  double as_double() const;                 // accepts 0.02, 3.0e-6, 3e-6, 1 (an int is a valid double)
  std::string as_string() const;            // any scalar, quoted or not; not null, a list or a map
  bool as_bool() const;                     // true/false (also True/TRUE/False/FALSE, YAML 1.2's core set)
  std::pair<int, int> as_int_pair() const;  // 5 -> {5, 5}; [3, 5] -> {3, 5}

  // Keyed accessors: the ones without a fallback require the key; the ones with a fallback use it
  // only when the key is absent (a present key with a bad value is always an error).
  int get_int(const std::string& key) const;
  int get_int(const std::string& key, int fallback) const;
  std::uint64_t get_uint64(const std::string& key, std::uint64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  bool get_bool(const std::string& key) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::pair<int, int> get_int_pair(const std::string& key) const;  // 5 -> {5, 5}; [3, 5] -> {3, 5}
  std::pair<int, int> get_int_pair(const std::string& key, std::pair<int, int> fallback) const;
  std::vector<int> get_int_list(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;
  // A double that must stay finite (and, with `positive`, above 0) as the float32 a layer keeps:
  // 1e300 or 1e-50 would pass as doubles and become inf or 0. Fails at the value otherwise.
  float get_float(const std::string& key, bool positive = false) const;
  float get_float(const std::string& key, double fallback, bool positive = false) const;
  // A file path value: as written when it exists or is absolute, else beside the config file when
  // it exists there (a config's weights next to it work from any folder), else as written.
  std::string get_path(const std::string& key) const;

  // An unknown key fails at that key: "unknown key 'filter' in Conv2D (did you mean 'filters'?);
  // allowed: filters, kernel, ...". "in Conv2D" comes from this map's `type:` when it has one.
  void check_keys(const std::vector<std::string>& allowed) const;

  // Throws ConfigError "FILE:LINE:COL: PATH: message" at this node (the path part is left out at
  // the root), so callers write only what is wrong: node.fail("rate must be in [0, 1)").
  [[noreturn]] void fail(const std::string& message) const;

 private:
  SpecNode(YAML::Node node, std::shared_ptr<const std::string> file, std::string path, YAML::Mark mark);
  // Finds `key` by walking the map (yaml-cpp's operator[] cannot give the key's position).
  bool find(const std::string& key, YAML::Node& key_node, YAML::Node& value) const;
  // The value of an optional key: nullopt when absent or when this whole section is empty.
  std::optional<SpecNode> optional_child(const std::string& key) const;
  std::string type_context() const;  // " in Conv2D" when this map has a scalar `type:`

  YAML::Node node_;
  std::shared_ptr<const std::string> file_;
  std::string path_;
  YAML::Mark mark_ = YAML::Mark::null_mark();  // usually node_.Mark(); the key's for an empty value
};

// The candidate closest to `word` by case-insensitive Damerau-Levenshtein (optimal string
// alignment) distance, or "" when nothing is close: the distance must be at most
// max(2, len(word)/3) and less than len(word). A word of 3+ letters that starts a candidate
// (BatchNorm, MaxPool, zoom) also matches it, because shortened names are a common slip.
std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates);
// " (did you mean 'Conv2D'?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace cxr
