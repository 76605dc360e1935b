#include "apps/run_folder.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <sstream>

#include "apps/checkpoint.h"
#include "apps/datasets.h"
#include "engine/error.h"
#include "engine/kernel_choice.h"
#include "layers/weights.h"

namespace cxr {

namespace fs = std::filesystem;

namespace {

constexpr const char* kWeightsFormat = "cxrnet-weights-v1";

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  CXR_CHECK(f, path.string() << ": cannot read");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// The `format` entry of a safetensors file's metadata, from its header alone (the tensors of a
// ResNet are 95 MB; the header says whose file it is). "" when there is none.
std::string weights_format(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  CXR_CHECK(f, path << ": cannot read the weights (train writes RUN/weights.safetensors)");
  unsigned char size_le[8] = {};
  f.read(reinterpret_cast<char*>(size_le), 8);
  CXR_CHECK(f.gcount() == 8, path << ": not a safetensors file (shorter than its 8-byte header length)");
  uint64_t size = 0;
  for (int i = 7; i >= 0; --i) size = size << 8 | size_le[i];
  CXR_CHECK(size > 0 && size < (100u << 20), path << ": not a safetensors file (header length " << size << ")");
  std::string header(size, '\0');
  f.read(header.data(), static_cast<std::streamsize>(size));
  CXR_CHECK(static_cast<uint64_t>(f.gcount()) == size, path << ": truncated safetensors header");
  const nlohmann::json json = nlohmann::json::parse(header, nullptr, false);
  CXR_CHECK(json.is_object(), path << ": the safetensors header is not valid JSON");
  const auto meta = json.find("__metadata__");
  if (meta == json.end() || !meta->is_object() || !meta->contains("format") || !(*meta)["format"].is_string())
    return "";
  return (*meta)["format"].get<std::string>();
}

}  // namespace

SpecNode without_pretrained_weights(const SpecNode& model) {
  YAML::Node copy = YAML::Clone(model.yaml());
  if (copy.IsMap() && copy["weights"]) copy.remove("weights");
  if (copy.IsMap() && copy["layers"] && copy["layers"].IsSequence())
    for (YAML::Node layer : copy["layers"])
      if (layer.IsMap() && layer["weights"]) layer["weights"] = "none";
  return SpecNode(copy, std::make_shared<const std::string>(model.file()), model.path());
}

namespace {

// Whether `resolved` (a file of data_dir) is `listed` (split.csv's path, maybe under another root).
bool same_file(const std::string& listed, const std::string& resolved, const std::string& data_dir) {
  if (listed == resolved) return true;
  const std::string relative = fs::path(resolved).lexically_relative(data_dir).string();
  return !relative.empty() && (listed == relative || listed.ends_with("/" + relative));
}

// "" when `resolved` holds the files `listed` holds, in order and with the same labels; otherwise
// what differs first.
std::string difference(const data::DatasetIndex& listed, const data::DatasetIndex& resolved, const std::string& what,
                       const std::string& data_dir) {
  std::ostringstream s;
  const size_t n = std::min(listed.files.size(), resolved.files.size());
  for (size_t i = 0; i < n; ++i) {
    if (same_file(listed.files[i], resolved.files[i], data_dir) && listed.labels[i] == resolved.labels[i]) continue;
    s << what << " file " << i + 1 << " differs: split.csv has " << listed.files[i] << " ("
      << listed.class_names[static_cast<size_t>(listed.labels[i])] << "), " << data_dir << " gives "
      << resolved.files[i] << " (" << resolved.class_names[static_cast<size_t>(resolved.labels[i])] << ")";
    return s.str();
  }
  if (listed.files.size() != resolved.files.size())
    s << "split.csv lists " << listed.files.size() << " " << what << " files, " << data_dir << " gives "
      << resolved.files.size();
  return s.str();
}

}  // namespace

std::vector<ManifestRow> parse_split_manifest(const std::string& text, const std::string& name) {
  // CSV as split_manifest writes it: fields quoted when they hold a comma, a quote or a newline.
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, at_field_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"' && at_field_start) {
      quoted = true;
    } else if (c == ',') {
      record.push_back(field);
      field.clear();
      at_field_start = true;
      continue;
    } else if (c == '\n') {
      record.push_back(field);
      records.push_back(record);
      record.clear();
      field.clear();
      at_field_start = true;
      continue;
    } else {
      field += c;
    }
    at_field_start = false;
  }
  CXR_CHECK(!quoted, name << ": a quoted field is not closed");
  if (!field.empty() || !record.empty()) {
    record.push_back(field);
    records.push_back(record);
  }
  CXR_CHECK(!records.empty() && records[0] == std::vector<std::string>({"path", "label", "split"}),
            name << ":1: expected the header path,label,split");
  std::vector<ManifestRow> rows;
  for (size_t r = 1; r < records.size(); ++r) {
    CXR_CHECK(records[r].size() == 3, name << ":" << r + 1 << ": expected 3 fields, found " << records[r].size());
    const std::string& split = records[r][2];
    CXR_CHECK(split == "train" || split == "validation" || split == "test",
              name << ":" << r + 1 << ": unknown split '" << split << "' (train, validation or test)");
    rows.push_back({records[r][0], records[r][1], split});
  }
  return rows;
}

RunFolder open_run_folder(const std::string& dir) {
  RunFolder run;
  run.dir = dir;
  std::error_code ec;
  CXR_CHECK(fs::is_directory(run.dir, ec), dir << ": no such run folder");
  for (const char* file : {"config.yaml", "split.csv"})
    CXR_CHECK(fs::is_regular_file(run.dir / file, ec),
              (run.dir / file).string() << ": missing; a run folder from `cxrnet train` holds config.yaml, "
                                           "split.csv and weights.safetensors");
  run.config = load_experiment_config((run.dir / "config.yaml").string());
  const std::string manifest_path = (run.dir / "split.csv").string();
  run.manifest = parse_split_manifest(read_file(manifest_path), manifest_path);
  std::map<std::string, std::pair<size_t, int>> labels;  // label -> (first line, rows)
  for (size_t i = 0; i < run.manifest.size(); ++i)
    ++labels.try_emplace(run.manifest[i].label, i + 2, 0).first->second.second;  // line 1 is the header
  for (const auto& [label, where] : labels) run.class_names.push_back(label);  // sorted, as the class folders were
  if (run.class_names.size() != 2) {
    std::ostringstream found;
    for (const auto& [label, where] : labels)
      found << (found.tellp() > 0 ? ", " : "") << "'" << label << "' (first on line " << where.first << ", "
            << where.second << (where.second == 1 ? " row)" : " rows)");
    CXR_CHECK(false, manifest_path << ": expected 2 classes, found " << labels.size() << ": " << found.str());
  }
  return run;
}

data::DatasetIndex manifest_split(const RunFolder& run, const std::string& split) {
  data::DatasetIndex index;
  index.class_names = run.class_names;
  for (const ManifestRow& row : run.manifest) {
    if (row.split != split) continue;
    index.files.push_back(row.path);
    const auto it = std::find(run.class_names.begin(), run.class_names.end(), row.label);
    index.labels.push_back(static_cast<int>(it - run.class_names.begin()));
  }
  return index;
}

RunSplitFiles run_split_files(const RunFolder& run, const std::string& data_dir, bool allow_other_files) {
  RunSplitFiles files;
  const std::string manifest = (run.dir / "split.csv").string();
  files.test = manifest_split(run, "test");
  files.validation = manifest_split(run, "validation");
  files.has_validation = run.config.data.validation.defined();
  files.source = manifest;
  if (data_dir.empty()) {
    CXR_CHECK(!files.test.files.empty(), manifest << ": lists no test files");
    // split.csv keeps the paths train was given (relative to the folder it ran in): from elsewhere
    // none exists, and each would be reported unreadable before a bare "no readable images".
    std::error_code ec;
    const bool any = std::any_of(files.test.files.begin(), files.test.files.end(),
                                 [&](const std::string& f) { return fs::exists(f, ec); });
    CXR_CHECK(any, manifest << ": none of its " << files.test.files.size() << " test files is found from "
                            << fs::current_path(ec).string() << " (the first: " << files.test.files.front()
                            << "); its paths are as train was given them: run this where train ran, or give --data "
                               "DIR, the data folder the run was trained with");
    return files;
  }
  const SplitIndices splits = resolve_splits(run.config.data, data_dir);
  CXR_CHECK(splits.train.class_names == run.class_names,
            data_dir << ": its classes differ from the run's (" << manifest << ")");
  std::string mismatch = difference(files.test, splits.test, "test", data_dir);
  if (mismatch.empty() && splits.has_validation)
    mismatch = difference(files.validation, splits.validation, "validation", data_dir);
  CXR_CHECK(mismatch.empty() || allow_other_files,
            "the splits of " << data_dir << " are not the files this run was tested on: " << mismatch
                             << ". Give the data folder the run was trained with (or none: " << manifest
                             << " lists the files), or --allow-other-files to evaluate these files anyway");
  files.test = splits.test;
  files.validation = splits.validation;
  files.has_validation = splits.has_validation;
  files.source = data_dir;
  files.mismatch = mismatch;
  return files;
}

Device available_device(const std::string& name) {
  const Device d = Device::parse(name);
  CXR_CHECK(d.is_cpu() || cuda_available(), "device " << d.str() << " requested but no CUDA GPU is available");
  return d;
}

Device select_device(ExperimentConfig& config, const std::string& device, const std::string& kernels) {
  if (!device.empty()) config.train.device = device;
  if (!kernels.empty()) config.train.kernels = kernels;
  const Device d = available_device(config.train.device);
  if (!config.train.kernels.empty()) set_default_kernel_choice(parse_kernel_choice(config.train.kernels));
  return d;
}

std::string run_weights_path(const RunFolder& run, const std::string& weights_path) {
  if (!weights_path.empty()) return weights_path;
  const fs::path weights = run.dir / "weights.safetensors", checkpoints = run.dir / "checkpoints";
  CXR_CHECK(fs::exists(weights) || !fs::exists(checkpoints / "last.safetensors"),
            weights.string() << ": missing: the run has not finished (stopped after a checkpoint). Finish it with "
                             << "cxrnet train --resume " << run.dir.string() << " --data DIR, or give a checkpoint: "
                             << "--weights " << (checkpoints / "last.safetensors").string()
                             << " (or best.safetensors, the best epoch's)");
  return weights.string();
}

Model load_run_model(const RunFolder& run, const std::string& weights_path, Device device) {
  const std::string format = weights_format(weights_path);
  CXR_CHECK(format == kWeightsFormat || format == kCheckpointFormat,
            weights_path << ": not a cxrnet weights file (format '" << format << "', expected " << kWeightsFormat
                         << " or " << kCheckpointFormat << "); give a run's weights.safetensors or a checkpoint");
  Model model = build_model(without_pretrained_weights(run.config.model), run.config.train.seed);
  if (format == kCheckpointFormat) {  // an unfinished run's epoch: its parameters, not its optimizer state
    load_checkpoint(weights_path, model, nullptr);
  } else {
    std::vector<NamedDestination> wanted;
    for (Parameter* p : model.parameters()) wanted.push_back({p->name, p->value});
    load_named_weights(weights_path, wanted);  // names the tensor that does not fit
  }
  model.to(device);
  return model;
}

data::LoadedImages load_inference_images(const data::DatasetIndex& index, const DataConfig& config) {
  return data::load_resized(index, config.image_height, config.image_width, load_options(config));
}

}  // namespace cxr
