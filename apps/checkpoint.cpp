#include "apps/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace cxr {
namespace {

using Json = nlohmann::ordered_json;

// Numbers travel as text: the shortest form that reads back as the same double (JSON has no
// inf or NaN, which a best value before the first epoch is).
std::string text(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

template <typename T>
T number(const std::string& path, const std::string& what, const std::string& value) {
  T out{};
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
  CXR_CHECK(error == std::errc() && end == value.data() + value.size(),
            path << ": " << what << " is '" << value << "', not a number (damaged checkpoint)");
  return out;
}

// A JSON member as a number: the readers below name the file and the member when it is absent.
template <typename T>
T member(const std::string& path, const Json& object, const std::string& key) {
  CXR_CHECK(object.is_object() && object.contains(key) && object[key].is_string(),
            path << ": checkpoint state lacks '" << key << "' (damaged checkpoint)");
  return number<T>(path, key, object[key].get<std::string>());
}

Json history_json(const std::vector<EpochResult>& history) {
  Json rows = Json::array();
  for (const EpochResult& r : history) {
    rows.push_back({{"epoch", text(r.epoch)},
                    {"loss", text(r.loss)},
                    {"binary_accuracy", text(r.accuracy)},
                    {"has_validation", text(r.has_validation ? 1 : 0)},
                    {"val_loss", text(r.val_loss)},
                    {"val_binary_accuracy", text(r.val_accuracy)},
                    {"lr", text(r.learning_rate)},
                    {"steps", text(r.steps)},
                    {"seconds", text(r.seconds)},
                    {"seconds_per_step", text(r.seconds_per_step)}});
  }
  return rows;
}

std::vector<EpochResult> history_from(const std::string& path, const Json& rows) {
  CXR_CHECK(rows.is_array(), path << ": checkpoint history is not a list (damaged checkpoint)");
  std::vector<EpochResult> history;
  for (const Json& row : rows) {
    EpochResult r;
    r.epoch = member<int>(path, row, "epoch");
    r.loss = member<double>(path, row, "loss");
    r.accuracy = member<double>(path, row, "binary_accuracy");
    r.has_validation = member<int>(path, row, "has_validation") != 0;
    r.val_loss = member<double>(path, row, "val_loss");
    r.val_accuracy = member<double>(path, row, "val_binary_accuracy");
    r.learning_rate = member<double>(path, row, "lr");
    r.steps = member<int>(path, row, "steps");
    r.seconds = member<double>(path, row, "seconds");
    r.seconds_per_step = member<double>(path, row, "seconds_per_step");
    history.push_back(r);
  }
  return history;
}

Json callbacks_json(const TrainingState& s) {
  return {{"best", {{"value", text(s.best.best)}, {"epoch", text(s.best.epoch)}}},
          {"early_stopping",
           {{"best", text(s.early_stopping.best)},
            {"best_epoch", text(s.early_stopping.best_epoch)},
            {"wait", text(s.early_stopping.wait)},
            {"stopped_epoch", text(s.early_stopping.stopped_epoch)},
            {"weights_epoch", text(s.early_stopping.weights_epoch)}}},
          {"lr_schedule",
           {{"lr", text(s.lr_schedule.lr)},
            {"best", text(s.lr_schedule.best)},
            {"wait", text(s.lr_schedule.wait)},
            {"cooldown", text(s.lr_schedule.cooldown)}}}};
}

void callbacks_from(const std::string& path, const Json& json, TrainingState& s) {
  CXR_CHECK(
      json.is_object() && json.contains("best") && json.contains("early_stopping") && json.contains("lr_schedule"),
      path << ": checkpoint callback state is incomplete (damaged checkpoint)");
  s.best.best = member<double>(path, json["best"], "value");
  s.best.epoch = member<int>(path, json["best"], "epoch");
  const Json& stop = json["early_stopping"];
  s.early_stopping.best = member<double>(path, stop, "best");
  s.early_stopping.best_epoch = member<int>(path, stop, "best_epoch");
  s.early_stopping.wait = member<int>(path, stop, "wait");
  s.early_stopping.stopped_epoch = member<int>(path, stop, "stopped_epoch");
  s.early_stopping.weights_epoch = member<int>(path, stop, "weights_epoch");
  const Json& lr = json["lr_schedule"];
  s.lr_schedule.lr = member<float>(path, lr, "lr");
  s.lr_schedule.best = member<double>(path, lr, "best");
  s.lr_schedule.wait = member<int>(path, lr, "wait");
  s.lr_schedule.cooldown = member<int>(path, lr, "cooldown");
}

// The optimizer's tensors by the names of the parameters they update (matched by storage, so the
// names are the model's even where tensors are named differently).
std::vector<std::string> trainable_names(Model& model, const Optimizer& optimizer) {
  std::vector<std::string> names;
  for (const Tensor& t : optimizer.parameters()) {
    std::string name;
    for (Parameter* p : model.parameters())
      if (p->value.impl() == t.impl()) name = p->name;
    CXR_ASSERT(!name.empty(), "the optimizer updates a tensor that is no parameter of the model");
    names.push_back(name);
  }
  return names;
}

std::string optimizer_type(Optimizer& optimizer) { return dynamic_cast<Adam*>(&optimizer) ? "Adam" : "SGD"; }

const std::string& meta(const std::string& path, const SafetensorsFile& file, const std::string& key) {
  const auto it = file.metadata.find(key);
  CXR_CHECK(it != file.metadata.end(), path << ": checkpoint metadata lacks '" << key << "' (damaged checkpoint)");
  return it->second;
}

Json json_meta(const std::string& path, const SafetensorsFile& file, const std::string& key) {
  try {
    return Json::parse(meta(path, file, key));
  } catch (const Json::exception& e) {
    throw InputError(path + ": checkpoint metadata '" + key + "' is not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

void save_checkpoint(const std::string& path, Model& model, Optimizer& optimizer, const TrainingState& state,
                     const std::string& resolved_yaml) {
  std::map<std::string, Tensor> tensors;
  for (Parameter* p : model.parameters()) tensors.emplace("model/" + p->name, p->value);
  if (auto* adam = dynamic_cast<Adam*>(&optimizer)) {
    const std::vector<std::string> names = trainable_names(model, optimizer);
    for (size_t i = 0; i < names.size(); ++i) {
      tensors.emplace("optimizer/m/" + names[i], adam->first_moments()[i]);
      tensors.emplace("optimizer/v/" + names[i], adam->second_moments()[i]);
    }
  }
  for (const auto& [name, t] : state.early_stopping_weights) tensors.emplace("early_stopping/" + name, t);
  const std::map<std::string, std::string> metadata{{"format", kCheckpointFormat},
                                                    {"resolved_yaml", resolved_yaml},
                                                    {"epochs_completed", text(state.epochs_completed)},
                                                    {"next_epoch", text(state.epochs_completed + 1)},
                                                    {"optimizer", optimizer_type(optimizer)},
                                                    {"iterations", text(static_cast<double>(state.iterations))},
                                                    {"learning_rate", text(state.learning_rate)},
                                                    {"rng", kRngScheme},
                                                    {"seed", std::to_string(state.seed)},
                                                    {"train_samples", text(static_cast<double>(state.train_samples))},
                                                    {"train_files_hash", state.train_files_hash},
                                                    {"history", history_json(state.history).dump()},
                                                    {"callbacks", callbacks_json(state).dump()}};
  save_safetensors(path, tensors, metadata);
}

LoadedCheckpoint load_checkpoint(const std::string& path, Model& model, Optimizer* optimizer, bool copy) {
  const SafetensorsFile file = load_safetensors(path);
  const auto format = file.metadata.find("format");
  CXR_CHECK(format != file.metadata.end() && format->second == kCheckpointFormat,
            path << ": not a cxrnet checkpoint (format "
                 << (format == file.metadata.end() ? std::string("tag missing") : "'" + format->second + "'")
                 << ", expected " << kCheckpointFormat << ")");
  LoadedCheckpoint out;
  out.resolved_yaml = meta(path, file, "resolved_yaml");
  out.optimizer_type = meta(path, file, "optimizer");
  CXR_CHECK(meta(path, file, "rng") == kRngScheme, path << ": random-number scheme '" << meta(path, file, "rng")
                                                        << "' is not this cxrnet's (" << kRngScheme << ")");
  TrainingState& s = out.state;
  s.epochs_completed = number<int>(path, "epochs_completed", meta(path, file, "epochs_completed"));
  s.iterations = number<int64_t>(path, "iterations", meta(path, file, "iterations"));
  s.learning_rate = number<float>(path, "learning_rate", meta(path, file, "learning_rate"));
  s.seed = number<std::uint64_t>(path, "seed", meta(path, file, "seed"));
  s.train_samples = number<int64_t>(path, "train_samples", meta(path, file, "train_samples"));
  s.train_files_hash = meta(path, file, "train_files_hash");
  s.history = history_from(path, json_meta(path, file, "history"));
  callbacks_from(path, json_meta(path, file, "callbacks"), s);
  // Values only a damaged or hand-edited checkpoint holds: refused here, before the resume changes
  // anything (a negative step count reached Adam as an internal error, a negative rate trained).
  const auto in_range = [&](bool ok, const std::string& what, double value) {
    CXR_CHECK(ok, path << ": " << what << " is " << text(value) << " (damaged checkpoint)");
  };
  in_range(s.epochs_completed >= 0, "epochs_completed", s.epochs_completed);
  in_range(s.iterations >= 0, "iterations", static_cast<double>(s.iterations));
  in_range(std::isfinite(s.learning_rate) && s.learning_rate >= 0, "learning_rate", s.learning_rate);
  in_range(s.train_samples >= 0, "train_samples", static_cast<double>(s.train_samples));
  in_range(std::isfinite(s.lr_schedule.lr) && s.lr_schedule.lr >= 0, "the lr_schedule's lr", s.lr_schedule.lr);
  for (const auto& [what, count] : {std::pair<const char*, int>{"the best epoch", s.best.epoch},
                                    {"early_stopping's best_epoch", s.early_stopping.best_epoch},
                                    {"early_stopping's wait", s.early_stopping.wait},
                                    {"early_stopping's stopped_epoch", s.early_stopping.stopped_epoch},
                                    {"early_stopping's weights_epoch", s.early_stopping.weights_epoch},
                                    {"the lr_schedule's wait", s.lr_schedule.wait},
                                    {"the lr_schedule's cooldown", s.lr_schedule.cooldown}})
    in_range(count >= 0, what, count);
  CXR_CHECK(static_cast<int>(s.history.size()) == s.epochs_completed, path << ": " << s.history.size()
                                                                           << " history rows for " << s.epochs_completed
                                                                           << " epochs (damaged checkpoint)");

  // Every tensor the file must hold, and where it goes.
  std::map<std::string, Tensor> wanted;
  for (Parameter* p : model.parameters()) wanted.emplace("model/" + p->name, p->value);
  if (optimizer) {
    CXR_CHECK(out.optimizer_type == optimizer_type(*optimizer), path << ": the checkpoint's optimizer is "
                                                                     << out.optimizer_type << ", the config's is "
                                                                     << optimizer_type(*optimizer));
    if (auto* adam = dynamic_cast<Adam*>(optimizer)) {
      const std::vector<std::string> names = trainable_names(model, *optimizer);
      for (size_t i = 0; i < names.size(); ++i) {
        wanted.emplace("optimizer/m/" + names[i], adam->first_moments()[i]);
        wanted.emplace("optimizer/v/" + names[i], adam->second_moments()[i]);
      }
    }
  }
  for (const auto& [name, destination] : wanted) {
    const auto it = file.tensors.find(name);
    CXR_CHECK(it != file.tensors.end(), path << ": missing tensor '" << name << "' (expected shape "
                                             << shape_str(destination.shape()) << "): a checkpoint of another model");
    CXR_CHECK(it->second.shape() == destination.shape(),
              path << ": tensor '" << name << "' has shape " << shape_str(it->second.shape()) << ", the model's is "
                   << shape_str(destination.shape()) << ": a checkpoint of another model");
  }
  for (const auto& [name, t] : file.tensors) {
    if (wanted.count(name) || (!optimizer && name.starts_with("optimizer/"))) continue;
    if (name.starts_with("early_stopping/")) {
      const auto model_tensor = wanted.find("model/" + name.substr(std::string("early_stopping/").size()));
      CXR_CHECK(model_tensor != wanted.end() && model_tensor->second.shape() == t.shape(),
                path << ": tensor '" << name << "' " << shape_str(t.shape()) << " matches no parameter of the model");
      s.early_stopping_weights.emplace(model_tensor->first.substr(6), t);
      continue;
    }
    CXR_CHECK(false, path << ": extra tensor '" << name << "' " << shape_str(t.shape())
                          << " that the model does not have: a checkpoint of another model");
  }
  CXR_CHECK(s.early_stopping_weights.empty() || s.early_stopping_weights.size() == model.parameters().size(),
            path << ": " << s.early_stopping_weights.size() << " early_stopping/ tensors for "
                 << model.parameters().size() << " parameters (damaged checkpoint)");

  for (const auto& [name, t] : file.tensors) {  // Adam's second moments are squares: sqrt(v) needs v >= 0
    if (!name.starts_with("optimizer/v/")) continue;
    const std::vector<float> v = t.to_vector();
    const auto negative = std::find_if(v.begin(), v.end(), [](float f) { return f < 0; });
    CXR_CHECK(negative == v.end(), path << ": tensor '" << name << "' holds " << *negative << " at index "
                                        << negative - v.begin() << "; Adam's second moments are never negative "
                                        << "(damaged checkpoint)");
  }
  if (!copy) return out;
  for (auto& [name, destination] : wanted) destination.copy_from(file.tensors.at(name));
  if (optimizer) optimizer->set_iterations(s.iterations);
  return out;
}

std::map<std::string, Tensor> copy_weights(Model& model) {
  std::map<std::string, Tensor> weights;
  for (Parameter* p : model.parameters()) weights.emplace(p->name, p->value.to(Device::cpu()));
  return weights;
}

void check_weights_finite(Model& model, int epoch) {
  for (Parameter* p : model.parameters()) {
    const std::vector<float> v = p->value.to_vector();
    const std::string bad = first_non_finite(v.data(), static_cast<int64_t>(v.size()), p->value.shape());
    CXR_CHECK(bad.empty(), "training diverged: after epoch " << epoch << ", " << p->name << " " << bad
                                                            << " (the loss stayed finite)");
  }
}

void set_weights(Model& model, const std::map<std::string, Tensor>& weights) {
  for (Parameter* p : model.parameters()) {
    const auto it = weights.find(p->name);
    CXR_ASSERT(it != weights.end(), "no kept weights for " << p->name);
    p->value.copy_from(it->second);
  }
}

std::string files_hash(const std::vector<std::string>& files, const std::vector<int>& labels, const std::string& root) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
  auto add = [&](const std::string& bytes) {
    for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  };
  for (size_t i = 0; i < files.size(); ++i) {
    add(std::filesystem::path(files[i]).lexically_relative(root).generic_string());
    add("\t" + std::to_string(labels[i]) + "\n");
  }
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

}  // namespace cxr
