#include "io/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <regex>
#include <set>

#include "core/excerpt.h"
#include "fastvideo/log.h"
#include "io/file_kind.h"
#include "io/float_conversion.h"
#include "io/load_stop.h"
#include "io/safetensors.h"
#include "io/text_file.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "io/cuda/device_weight_upload.h"
#endif

namespace fastvideo {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string folder_name(const fs::path& dir) {
  fs::path p = dir;
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

std::string join_names(const std::vector<std::string>& names, size_t limit) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < limit; ++i) s += (i ? ", " : "") + excerpt(names[i]);
  if (names.size() > limit) s += str_cat(", ... (", names.size() - limit, " more)");
  return s;
}

// What a component folder should hold, for the error that reports it missing.
std::string expected_contents(const std::string& library, const std::string& class_name) {
  if (ends_with(class_name, "Scheduler")) return "scheduler_config.json";
  if (class_name.find("Tokenizer") != std::string::npos) {
    return "the tokenizer files (spiece.model, tokenizer_config.json, special_tokens_map.json)";
  }
  const std::string base = library == "transformers" ? "model" : "diffusion_pytorch_model";
  return str_cat("config.json and ", base, ".safetensors (or ", base,
                 "-0000i-of-0000N.safetensors shards with ", base, ".safetensors.index.json)");
}

// The safetensors files of a component: one file, or the shards an index json names.
struct WeightFiles {
  std::optional<fs::path> index;
  std::vector<fs::path> files;
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name (sharded only)
};

// A name joined to a folder's path (a shard in a weight_map, a component in model_index.json)
// must stay inside that folder: no directory parts ("a/b", "./x", "../x", "/etc/passwd").
bool is_plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// The entries of `dir` named *<suffix>, each of which must be a regular file.
std::vector<fs::path> list_with_suffix(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!ends_with(entry.path().filename().string(), suffix)) continue;
    const std::string why = why_not_a_file(entry.path());
    if (!why.empty()) fail(entry.path().string(), ": ", why);
    out.push_back(entry.path());
  }
  if (ec) fail(dir.string(), ": cannot list the folder: ", ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::string file_names(const std::vector<fs::path>& files) {
  std::vector<std::string> names;
  for (const auto& f : files) names.push_back(f.filename().string());
  return join_names(names, names.size());
}

// `required` false: a folder without weights (tokenizer, scheduler) gives no files.
WeightFiles find_weight_files(const fs::path& dir, bool required) {
  if (const std::string why = why_not_a_folder(dir); !why.empty()) fail(dir.string(), ": ", why);
  WeightFiles w;
  const auto indexes = list_with_suffix(dir, ".safetensors.index.json");
  if (indexes.size() > 1) {
    fail(dir.string(), ": several shard indexes (", file_names(indexes),
         "); expected exactly one *.safetensors.index.json");
  }
  if (indexes.size() == 1) {
    w.index = indexes[0];
    const JsonFile index = JsonFile::load(indexes[0]);
    const auto& map =
        index.json().contains("weight_map") ? index.json()["weight_map"] : nlohmann::json();
    if (!map.is_object()) {
      fail(index.origin(), ": 'weight_map' is ", excerpt(map.dump()),
           ", expected an object of tensor -> shard");
    }
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : map.items()) {
      if (!shard.is_string()) {
        fail(index.origin(), ": weight_map entry ", excerpt(tensor), " is ", excerpt(shard.dump()),
             ", expected a file name");
      }
      if (!is_plain_name(shard.get<std::string>())) {
        fail(index.origin(), ": weight_map entry ", excerpt(tensor), " names shard ",
             excerpt(shard.dump()), ", expected a file name in ", dir.string(),
             " (no directory parts)");
      }
      w.weight_map[tensor] = shard.get<std::string>();
      shards.insert(shard.get<std::string>());
    }
    for (const auto& shard : shards) {
      if (const std::string why = why_not_a_file(dir / shard); !why.empty()) {
        fail(index.origin(), ": weight_map names shard ", excerpt(shard), ", but ",
             (dir / shard).string(), " ", why);
      }
      w.files.push_back(dir / shard);
    }
    // A shard the index leaves out is not read (as in diffusers); say so, since what it holds
    // would otherwise show up only as missing tensors. Once per file: a component is opened
    // several times while a model loads.
    static std::mutex warned_mutex;
    static std::set<std::string> warned;
    for (const fs::path& file : list_with_suffix(dir, ".safetensors")) {
      if (shards.count(file.filename().string())) continue;
      const std::lock_guard lock(warned_mutex);
      if (warned.insert(file.string()).second) {
        log::warning(index.origin(), ": weight_map maps no tensor to ", file.filename().string(),
                     ", which is in the folder; it is not read");
      }
    }
    return w;
  }
  w.files = list_with_suffix(dir, ".safetensors");
  if (w.files.size() > 1) {
    fail(dir.string(), ": several safetensors files (", file_names(w.files),
         ") and no *.safetensors.index.json saying which tensors they hold");
  }
  if (w.files.empty() && required) {
    fail(dir.string(),
         ": no weights found; expected one *.safetensors file or a "
         "*.safetensors.index.json with its shards");
  }
  return w;
}

// Where each tensor of a component lives: the opened files and name -> file.
struct WeightLocations {
  std::vector<SafetensorsFile> files;
  std::map<std::string, size_t> file_of;
};

WeightLocations locate_weights(const WeightFiles& w) {
  WeightLocations loc;
  std::map<std::string, size_t> index_of_name;
  for (const auto& f : w.files) {
    index_of_name[f.filename().string()] = loc.files.size();
    loc.files.push_back(SafetensorsFile::open(f));
  }
  for (const auto& [tensor, shard] : w.weight_map) {
    const size_t i = index_of_name.at(shard);
    if (!loc.files[i].contains(tensor)) {
      fail(loc.files[i].path().string(), ": tensor ", excerpt(tensor),
           " is absent from this shard, but ", w.index->string(), " maps it here");
    }
    loc.file_of[tensor] = i;
  }
  // Tensors a shard holds beyond its index still count (as extras, if no spec names them). A
  // tensor stored in two shards is refused: which copy a loader takes differs (diffusers reads
  // every shard, so the last one wins there; QA fuzzing found it taken silently here).
  std::map<std::string, size_t> stored_in;
  for (size_t i = 0; i < loc.files.size(); ++i) {
    for (const auto& name : loc.files[i].names()) {
      const auto [it, first] = stored_in.emplace(name, i);
      if (!first) {
        fail(loc.files[it->second].path().string(), " and ", loc.files[i].path().string(),
             " both hold tensor ", excerpt(name), "; a checkpoint stores each tensor once");
      }
      loc.file_of.emplace(name, i);
    }
  }
  return loc;
}

// Converts a float tensor viewed in the mapping into freshly allocated `dtype` host memory; a value
// that is NaN or Inf is an error naming `what`.
Tensor convert_from_mapping(const Tensor& src, DType dtype, const std::string& what) {
  Tensor out = Tensor::empty(src.shape(), dtype);
  const size_t n = size_t(src.numel());
  const size_t bad = convert_floats(src.raw_data(), src.dtype(), out.raw_data(), dtype, n);
  if (bad < n) fail_non_finite_weight(what, bad, n);
  return out;
}

std::string weight_name(const SafetensorsFile& file, const std::string& tensor) {
  return str_cat(file.path().string(), ": tensor ", tensor);
}

}  // namespace

CheckpointFolder CheckpointFolder::open(const fs::path& dir) {
  FV_CHECK(!dir.empty(), "the model path is empty; name a diffusers checkpoint folder");
  if (const std::string why = why_not_a_folder(dir); !why.empty()) {
    // "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", FastVideo's quick start, names a Hub repository.
    const std::string text = dir.generic_string();
    const bool hub_id = !fs::exists(dir) && std::count(text.begin(), text.end(), '/') == 1 &&
                        text.front() != '/' && text.front() != '.' && text.back() != '/';
    fail(dir.string(), ": ", why, "; a diffusers checkpoint is the folder holding model_index.json",
         hub_id ? str_cat(". If '", text,
                          "' is a Hugging Face Hub id: this engine loads local folders only and "
                          "downloads nothing; fetch it first (huggingface-cli download ",
                          text, " --local-dir DIR) and pass DIR")
                : std::string());
  }
  const fs::path index_path = dir / "model_index.json";
  if (const std::string why = why_not_a_file(index_path); !why.empty()) {
    fail(index_path.string(), ": ", why,
         "; a diffusers checkpoint folder starts with model_index.json (is ", dir.string(),
         " the checkpoint root?)");
  }
  const JsonFile index = JsonFile::load(index_path);
  if (!index.json().is_object()) fail(index.origin(), ": expected a JSON object");

  CheckpointFolder c;
  c.root_ = dir;
  c.class_name_ = index.get<std::string>("_class_name");
  for (const auto& [key, value] : index.json().items()) {
    // Components are ["library", "Class"] pairs; [null, null] marks an absent optional one and
    // other keys are pipeline settings. A list that starts as a pair would is a broken one.
    if (key.starts_with("_")) continue;
    const bool pair_like =
        value.is_array() && !value.empty() && (value[0].is_string() || value[0].is_null());
    if (!pair_like) {
      c.settings_[key] = value;
      continue;
    }
    if (value.size() != 2) {
      fail(index.origin(), ": component ", excerpt(key), " is ", excerpt(value.dump()),
           ", expected [library, class]");
    }
    if (value[0].is_null() && value[1].is_null()) continue;
    if (!value[0].is_string() || !value[1].is_string()) {
      fail(index.origin(), ": component ", excerpt(key), " is ", excerpt(value.dump()),
           ", expected [library, class]");
    }
    if (!is_plain_name(key)) {
      fail(index.origin(), ": component ", excerpt(key), " is not a folder name in ", dir.string(),
           " (no directory parts)");
    }
    c.components_[key] = {value[0].get<std::string>(), value[1].get<std::string>()};
  }
  if (c.components_.empty()) fail(index.origin(), ": lists no components");
  for (const auto& [name, comp] : c.components_) {
    const fs::path folder = dir / name;
    if (const std::string why = why_not_a_folder(folder); !why.empty()) {
      fail(folder.string(), ": component folder ", why, "; model_index.json lists ", excerpt(name),
           " as ", excerpt(comp.library), " ", excerpt(comp.class_name), ", so it should hold ",
           expected_contents(comp.library, comp.class_name));
    }
  }
  return c;
}

nlohmann::json CheckpointFolder::setting(const std::string& key) const {
  const auto it = settings_.find(key);
  return it == settings_.end() ? nlohmann::json() : *it;
}

std::vector<std::string> CheckpointFolder::components() const {
  std::vector<std::string> names;
  for (const auto& [name, comp] : components_) names.push_back(name);
  return names;
}

fs::path CheckpointFolder::path(const std::string& component) const {
  component_class(component);
  return root_ / component;
}

const std::string& CheckpointFolder::component_class(const std::string& component) const {
  auto it = components_.find(component);
  if (it == components_.end()) {
    fail((root_ / "model_index.json").string(), ": no component ", excerpt(component),
         " (it lists ", join_names(components(), components_.size()), ")");
  }
  return it->second.class_name;
}

JsonFile CheckpointFolder::config(const std::string& component) const {
  const std::string& cls = component_class(component);
  const char* file = "config.json";
  if (ends_with(cls, "Scheduler")) file = "scheduler_config.json";
  if (cls.find("Tokenizer") != std::string::npos) file = "tokenizer_config.json";
  return JsonFile::load(root_ / component / file);
}

void CheckpointFolder::require_block_count(const std::string& component, const std::string& key,
                                           int64_t expected, const std::string& prefix) const {
  const fs::path dir = path(component);
  std::set<int64_t> blocks;
  for (const auto& [name, file] : locate_weights(find_weight_files(dir, true)).file_of) {
    if (!name.starts_with(prefix)) continue;
    const char* first = name.data() + prefix.size();
    const char* last = name.data() + name.size();
    int64_t n = 0;
    const auto [end, ec] = std::from_chars(first, last, n);
    if (ec == std::errc() && end != last && *end == '.') blocks.insert(n);
  }
  if (int64_t(blocks.size()) != expected) {
    const JsonFile json = config(component);
    fail(json.origin(), ": key '", key, "' has value ", json.quote(key),
         ", so the weights should hold ", expected, " blocks ", prefix, "N., but those in ",
         dir.string(), " hold ", blocks.size());
  }
}

std::set<std::string> component_tensor_names(const fs::path& component_dir) {
  std::set<std::string> names;
  for (const auto& [name, file] : locate_weights(find_weight_files(component_dir, true)).file_of)
    names.insert(name);
  return names;
}

namespace {

// The component's files, validated against `specs` before anything loads (a bad checkpoint fails
// in milliseconds): every spec present once with its shape and a float dtype; tensors the specs
// do not name are reported in one warning.
WeightLocations open_component(const fs::path& component_dir,
                               const std::vector<TensorSpec>& specs) {
  const WeightFiles files = find_weight_files(component_dir, /*required=*/true);
  WeightLocations loc = locate_weights(files);

  std::set<std::string> specified;
  for (const auto& spec : specs) {
    FV_CHECK(specified.insert(spec.name).second, component_dir.string(), ": tensor ", spec.name,
             " appears twice in the model's tensor table");
    auto it = loc.file_of.find(spec.name);
    if (it == loc.file_of.end()) {
      fail(component_dir.string(), ": tensor ", spec.name, " is missing (looked in ",
           file_names(files.files), ")");
    }
    const SafetensorsFile& f = loc.files[it->second];
    const TensorInfo& info = f.info(spec.name);
    if (info.shape != spec.shape) {
      fail(f.path().string(), ": tensor ", spec.name, " has shape ", shape_str(info.shape),
           ", expected ", shape_str(spec.shape));
    }
    if (!is_float_dtype(info.dtype)) {
      fail(f.path().string(), ": tensor ", spec.name, " has dtype ", dtype_name(info.dtype),
           ", expected F32, BF16 or F16");
    }
  }
  std::vector<std::string> extra;
  for (const auto& [name, file] : loc.file_of) {
    if (!specified.count(name)) extra.push_back(name);
  }
  if (!extra.empty()) {
    log::warning(component_dir.string(), ": ", extra.size(),
                 " tensors in the checkpoint are not in this model's table and were not loaded: ",
                 join_names(extra, 5));
  }
  return loc;
}

}  // namespace

int64_t check_component_values(const fs::path& component_dir,
                               const std::vector<TensorSpec>& specs) {
  const WeightLocations loc = open_component(component_dir, specs);
  int64_t values = 0;
  for (const auto& spec : specs) {
    const SafetensorsFile& f = loc.files[loc.file_of.at(spec.name)];
    const Tensor stored = f.tensor(spec.name);
    const size_t n = size_t(stored.numel());
    const size_t bad = first_non_finite(stored.raw_data(), stored.dtype(), n);
    if (bad < n) fail_non_finite_weight(weight_name(f, spec.name), bad, n);
    release_mapped_pages(stored);
    values += int64_t(n);
  }
  return values;
}

Weights load_component(const fs::path& component_dir, const std::vector<TensorSpec>& specs,
                       DType compute_dtype, Device device, const std::set<std::string>* keep_f32,
                       std::string_view mapped_prefix) {
  FV_CHECK(is_float_dtype(compute_dtype), component_dir.string(), ": compute dtype ",
           dtype_name(compute_dtype), " is not F32, BF16 or F16");
  const WeightLocations loc = open_component(component_dir, specs);

  auto dtype_of = [&](const std::string& name) {
    return keep_f32 && keep_f32->count(name) ? DType::F32 : compute_dtype;
  };
  Weights weights(folder_name(component_dir));
  auto left_mapped = [&](const std::string& name) {
    return !mapped_prefix.empty() && name.starts_with(mapped_prefix);
  };
  for (const auto& spec : specs) {
    if (spec.used && left_mapped(spec.name))
      weights.insert(spec.name, loc.files[loc.file_of.at(spec.name)].tensor(spec.name));
  }
  const std::string component = folder_name(component_dir);
  if (device.is_cpu()) {
    for (const auto& spec : specs) {
      if (!spec.used || left_mapped(spec.name)) continue;
      check_load_stop(component);
      const SafetensorsFile& f = loc.files[loc.file_of.at(spec.name)];
      const Tensor stored = f.tensor(spec.name);
      weights.insert(spec.name,
                     convert_from_mapping(stored, dtype_of(spec.name), weight_name(f, spec.name)));
      release_mapped_pages(stored);
    }
    return weights;
  }
#ifdef FASTVIDEO_HAVE_CUDA
  DeviceWeightUploader uploader(device);
  for (const auto& spec : specs) {
    if (!spec.used || left_mapped(spec.name)) continue;
    check_load_stop(component);
    const SafetensorsFile& f = loc.files[loc.file_of.at(spec.name)];
    const Tensor stored = f.tensor(spec.name);
    weights.insert(spec.name,
                   uploader.upload(stored, dtype_of(spec.name), weight_name(f, spec.name)));
    release_mapped_pages(stored);  // upload() has read it into a staging buffer
  }
  uploader.finish();
  return weights;
#else
  fail(component_dir.string(), ": cannot load onto ", device.name(),
       ": this build has no CUDA backend");
#endif
}

struct MappedComponent::Files {
  WeightLocations loc;
#ifdef FASTVIDEO_HAVE_CUDA
  std::map<int, std::unique_ptr<DeviceWeightUploader>> uploaders;  // by GPU, made on first use
#endif
};

MappedComponent::MappedComponent(const fs::path& component_dir,
                                 const std::vector<TensorSpec>& specs)
    : name_(folder_name(component_dir)), files_(std::make_unique<Files>()) {
  files_->loc = open_component(component_dir, specs);
}

MappedComponent::~MappedComponent() = default;

Tensor MappedComponent::load(const std::string& name, DType dtype, Device device) const {
  const SafetensorsFile& f = files_->loc.files[files_->loc.file_of.at(name)];
  const Tensor stored = f.tensor(name);
  Tensor t = to_device(stored, dtype, device, weight_name(f, name));
  release_mapped_pages(stored);
  return t;
}

Tensor MappedComponent::load_rows(const std::string& name, std::span<const int32_t> rows,
                                  DType dtype, Device device) const {
  const SafetensorsFile& f = files_->loc.files[files_->loc.file_of.at(name)];
  const Tensor table = f.tensor(name);
  FV_CHECK(table.ndim() == 2, name_, ": tensor ", name, " is ", table.describe(),
           "; rows are looked up in a matrix");
  const int64_t cols = table.size(1);
  Tensor picked = Tensor::empty({int64_t(rows.size()), cols}, table.dtype());
  const size_t row_bytes = size_t(cols) * dtype_size(table.dtype());
  for (size_t i = 0; i < rows.size(); ++i) {
    FV_CHECK(rows[i] >= 0 && rows[i] < table.size(0), name_, ": row ", rows[i], " of tensor ", name,
             " is outside its ", table.size(0), " rows");
    std::memcpy(static_cast<char*>(picked.raw_data()) + i * row_bytes,
                static_cast<const char*>(table.raw_data()) + size_t(rows[i]) * row_bytes,
                row_bytes);
  }
  release_mapped_pages(table);
  return to_device(picked, dtype, device, str_cat(weight_name(f, name), " (rows looked up)"));
}

Tensor MappedComponent::to_device(const Tensor& host, DType dtype, Device device,
                                  const std::string& what) const {
  if (device.is_cpu()) return convert_from_mapping(host, dtype, what);
#ifdef FASTVIDEO_HAVE_CUDA
  auto& uploader = files_->uploaders[device.index];
  if (!uploader) uploader = std::make_unique<DeviceWeightUploader>(device);
  return uploader->upload(host, dtype, what);
#else
  fail(name_, ": cannot load onto ", device.name(), ": this build has no CUDA backend");
#endif
}

namespace {

// Removes the files a previous write of another layout left under the same basename, so the
// folder holds exactly one layout.
void remove_stale_weights(const fs::path& dir, const std::string& basename,
                          const std::set<std::string>& keep) {
  const std::regex stale(
      std::regex_replace(basename, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
      R"((-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?)");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!keep.count(name) && std::regex_match(name, stale)) {
      std::error_code remove_ec;
      fs::remove(entry.path(), remove_ec);
      if (remove_ec)
        log::warning(entry.path().string(), ": stale weights left in place: ", remove_ec.message());
    }
  }
}

}  // namespace

void write_component(const fs::path& component_dir, const std::string& weights_basename,
                     const std::vector<std::pair<std::string, Tensor>>& tensors, int num_shards,
                     DType stored_dtype) {
  const std::string dir = component_dir.string();
  FV_CHECK(is_float_dtype(stored_dtype), dir, ": stored dtype ", dtype_name(stored_dtype),
           " is not F32, BF16 or F16");
  FV_CHECK(num_shards >= 1 && size_t(num_shards) <= std::max<size_t>(tensors.size(), 1), dir,
           ": cannot split ", tensors.size(), " tensors into ", num_shards, " shards");
  std::error_code ec;
  fs::create_directories(component_dir, ec);
  if (ec) fail(dir, ": cannot create the folder: ", ec.message());

  std::vector<std::pair<std::string, Tensor>> stored;
  uint64_t total_bytes = 0;
  for (const auto& [name, t] : tensors) {
    stored.emplace_back(name, t.to(stored_dtype));
    total_bytes += stored.back().second.nbytes();
  }

  if (num_shards == 1) {
    const std::string file = weights_basename + ".safetensors";
    write_safetensors(component_dir / file, stored, {{"format", "pt"}});
    remove_stale_weights(component_dir, weights_basename, {file});
    return;
  }

  // Split in order into num_shards runs of about equal bytes, none empty (as diffusers'
  // max_shard_size splitting does, for a given count instead of a given size).
  std::vector<std::vector<std::pair<std::string, Tensor>>> shards(static_cast<size_t>(num_shards));
  size_t shard = 0;
  uint64_t written = 0;
  for (size_t i = 0; i < stored.size(); ++i) {
    const size_t remaining_tensors = stored.size() - i;
    const size_t later_shards = size_t(num_shards) - shard - 1;
    const bool share_full = written >= total_bytes * (shard + 1) / size_t(num_shards);
    if (!shards[shard].empty() && later_shards > 0 &&
        (share_full || remaining_tensors == later_shards)) {
      ++shard;
    }
    shards[shard].push_back(stored[i]);
    written += stored[i].second.nbytes();
  }

  nlohmann::json weight_map = nlohmann::json::object();
  std::set<std::string> written_files;
  try {
    for (size_t s = 0; s < shards.size(); ++s) {
      char file[512];
      std::snprintf(file, sizeof file, "%s-%05zu-of-%05d.safetensors", weights_basename.c_str(),
                    s + 1, num_shards);
      write_safetensors(component_dir / file, shards[s], {{"format", "pt"}});
      written_files.insert(file);
      for (const auto& [name, t] : shards[s]) weight_map[name] = file;
    }
    const nlohmann::json index = {{"metadata", {{"total_size", total_bytes}}},
                                  {"weight_map", weight_map}};
    const std::string index_file = weights_basename + ".safetensors.index.json";
    write_text_file(component_dir / index_file, index.dump(2) + "\n");
    written_files.insert(index_file);
  } catch (const Error&) {
    for (const auto& f : written_files) fs::remove(component_dir / f, ec);
    throw;
  }
  remove_stale_weights(component_dir, weights_basename, written_files);
}

uint64_t ShardPlan::total_bytes() const {
  uint64_t total = 0;
  for (const Shard& s : shards) total += s.bytes;
  return total;
}

size_t ShardPlan::num_tensors() const {
  size_t n = 0;
  for (const Shard& s : shards) n += s.tensors.size();
  return n;
}

std::string ShardPlan::index_file() const {
  return shards.size() > 1 ? basename + ".safetensors.index.json" : std::string();
}

nlohmann::json ShardPlan::index() const {
  nlohmann::json weight_map = nlohmann::json::object();
  for (const Shard& s : shards) {
    for (const TensorSpec& t : s.tensors) weight_map[t.name] = s.file;
  }
  return {{"metadata", {{"total_size", total_bytes()}}}, {"weight_map", weight_map}};
}

ShardPlan plan_shards(const std::vector<TensorSpec>& specs, const std::string& basename,
                      DType stored_dtype, uint64_t max_shard_bytes) {
  FV_CHECK(is_float_dtype(stored_dtype), basename, ": stored dtype ", dtype_name(stored_dtype),
           " is not F32, BF16 or F16");
  FV_CHECK(!specs.empty(), basename, ": no tensors to write");
  FV_CHECK(max_shard_bytes > 0, basename, ": the largest shard size must be positive");
  ShardPlan plan;
  plan.basename = basename;
  plan.stored_dtype = stored_dtype;
  for (const TensorSpec& spec : specs) {
    const uint64_t bytes = uint64_t(shape_numel(spec.shape)) * dtype_size(stored_dtype);
    if (plan.shards.empty() || (!plan.shards.back().tensors.empty() &&
                                plan.shards.back().bytes + bytes > max_shard_bytes)) {
      plan.shards.emplace_back();
    }
    plan.shards.back().tensors.push_back(spec);
    plan.shards.back().bytes += bytes;
  }
  const size_t n = plan.shards.size();
  for (size_t i = 0; i < n; ++i) {
    if (n == 1) {
      plan.shards[i].file = basename + ".safetensors";
    } else {
      char file[512];
      std::snprintf(file, sizeof file, "%s-%05zu-of-%05zu.safetensors", basename.c_str(), i + 1, n);
      plan.shards[i].file = file;
    }
  }
  return plan;
}

void write_component_streamed(const fs::path& component_dir, const ShardPlan& plan,
                              const TensorFiller& fill) {
  std::error_code ec;
  fs::create_directories(component_dir, ec);
  if (ec) fail(component_dir.string(), ": cannot create the folder: ", ec.message());
  std::set<std::string> written_files;
  try {
    for (const ShardPlan::Shard& shard : plan.shards) {
      write_safetensors_streamed(component_dir / shard.file, shard.tensors, plan.stored_dtype, fill,
                                 {{"format", "pt"}});
      written_files.insert(shard.file);
    }
    if (!plan.index_file().empty()) {
      write_text_file(component_dir / plan.index_file(), plan.index().dump(2) + "\n");
      written_files.insert(plan.index_file());
    }
  } catch (const Error&) {
    for (const auto& f : written_files) fs::remove(component_dir / f, ec);
    throw;
  }
  remove_stale_weights(component_dir, plan.basename, written_files);
}

ComponentSummary summarize_component(const fs::path& component_dir) {
  ComponentSummary s;
  s.name = folder_name(component_dir);
  for (const char* config : {"config.json", "scheduler_config.json", "tokenizer_config.json"}) {
    std::error_code ec;  // a link that cannot be resolved counts: JsonFile::load names it
    if (!fs::exists(fs::symlink_status(component_dir / config, ec))) continue;
    const JsonFile json = JsonFile::load(component_dir / config);
    const auto& j = json.json();
    s.config = j.dump();
    if (j.contains("_class_name") && j["_class_name"].is_string()) {
      s.class_name = j["_class_name"];
    } else if (j.contains("architectures") && j["architectures"].is_array() &&
               !j["architectures"].empty() && j["architectures"][0].is_string()) {
      s.class_name = j["architectures"][0];  // transformers configs
    } else if (j.contains("tokenizer_class") && j["tokenizer_class"].is_string()) {
      s.class_name = j["tokenizer_class"];
    }
    break;
  }
  const WeightFiles files = find_weight_files(component_dir, /*required=*/false);
  if (files.index) s.files.push_back(files.index->filename().string());
  for (const auto& path : files.files) {
    s.files.push_back(path.filename().string());
    const SafetensorsFile f = SafetensorsFile::open(path);
    for (const auto& name : f.names()) {
      const TensorInfo& info = f.info(name);
      const int64_t n = shape_numel(info.shape);
      s.parameters += n;
      s.parameters_by_dtype[std::string(dtype_name(info.dtype))] += n;
    }
  }
  return s;
}

}  // namespace fastvideo
