#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/excerpt.h"
#include "io/float_conversion.h"
#include "io/json_parse.h"

namespace fastvideo {

namespace {

// Larger headers exist only in corrupt files; the real 14B shards have headers of about 100 kB.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

uint64_t read_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void write_le64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Shape parse_shape(const nlohmann::json& j, const std::string& where) {
  if (!j.is_array())
    fail(where, ": 'shape' is ", excerpt(j.dump()), ", expected an array of integers");
  Shape shape;
  for (const auto& d : j) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT64_MAX)) {
      fail(where, ": 'shape' is ", excerpt(j.dump()), ", expected non-negative integers");
    }
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

// Number of data bytes a tensor of this shape and dtype needs; fails on overflow instead of
// wrapping, so a crafted shape cannot pass the size check.
uint64_t tensor_bytes(const Shape& shape, DType dtype, const std::string& where) {
  unsigned __int128 bytes = dtype_size(dtype);
  for (int64_t d : shape) {
    bytes *= uint64_t(d);
    if (bytes > (unsigned __int128)(UINT64_MAX)) {
      fail(where, ": shape ", shape_str(shape), " is too large");
    }
  }
  return uint64_t(bytes);
}

// Finds a key given twice in one object, in one SAX pass over text that parses. (A parser
// callback did this before, but nlohmann 3.11 then rescans each object as it closes: a header of
// 300,000 entries took over 14 minutes.)
class DuplicateKeyFinder : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::optional<std::string> duplicate;  // the first key seen twice

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    open_.emplace_back();
    return true;
  }
  bool key(string_t& key) override {
    if (open_.back().insert(key).second) return true;
    duplicate = key;
    return false;
  }
  bool end_object() override {
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;  // the DOM parse before it reported the error
  }

 private:
  std::vector<std::unordered_set<std::string>> open_;  // the keys of each enclosing object
};

// The header's JSON. nlohmann keeps one of two equal keys silently; the format forbids them (the
// entry a reader sees could differ from the one another reader trusts), so they are refused.
nlohmann::json parse_header(const std::string& file, const char* first, const char* last) {
  const std::string_view text(first, size_t(last - first));
  nlohmann::json header;
  try {
    header = parse_json(text);
  } catch (const nlohmann::json::exception& e) {  // also out_of_range: a number beyond double
    // A length prefix off by a few bytes cuts the JSON short or runs it into the data: say which
    // length was read, since the JSON itself may be fine (QA fuzzing).
    fail(file, ": the ", last - first,
         "-byte header its first 8 bytes announce is not valid JSON (is the file damaged?): ",
         e.what());
  }
  DuplicateKeyFinder finder;
  nlohmann::json::sax_parse(text, &finder);
  if (finder.duplicate) {
    fail(file, ": header has the key ", excerpt(nlohmann::json(*finder.duplicate).dump()),
         " twice in one object; safetensors forbids duplicate keys");
  }
  return header;
}

// The format requires the tensors' byte ranges to cover the data section exactly: no byte shared
// by two tensors, none that belongs to no tensor.
void require_exact_cover(const std::string& file, const std::map<std::string, TensorInfo>& entries,
                         uint64_t data_bytes) {
  std::vector<std::pair<const TensorInfo*, const std::string*>> by_offset;
  for (const auto& [name, info] : entries) by_offset.emplace_back(&info, &name);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
    return std::pair(a.first->begin, a.first->end) < std::pair(b.first->begin, b.first->end);
  });
  uint64_t covered = 0;
  const std::pair<const TensorInfo*, const std::string*>* previous = nullptr;
  for (const auto& current : by_offset) {
    const TensorInfo& info = *current.first;
    if (info.begin < covered) {
      fail(file, ": tensors ", excerpt(*previous->second), " [", previous->first->begin, ",",
           previous->first->end, "] and ", excerpt(*current.second), " [", info.begin, ",",
           info.end, "] overlap; safetensors tensors must not share bytes");
    }
    if (info.begin > covered) {
      fail(file, ": data bytes [", covered, ",", info.begin, ") before tensor ",
           excerpt(*current.second), " belong to no tensor; safetensors forbids holes");
    }
    covered = info.end;
    previous = &current;
  }
  if (covered != data_bytes) {
    fail(file, ": the tensors end at byte ", covered, " of the ", data_bytes,
         "-byte data section; safetensors forbids holes");
  }
}

}  // namespace

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t bytes = 0;
  ~Mapping() {
    if (addr) ::munmap(addr, bytes);
  }
};

namespace {

// The deleter of every mapping's shared_ptr: a tensor whose owner has it borrows from a mapping
// (std::get_deleter sees it through the shared_ptr<void> a view holds).
struct UnmapOnLastView {
  void operator()(SafetensorsFile::Mapping* m) const { delete m; }
};

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string file = path.string();
  FileDescriptor fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail(file, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(file, ": cannot stat: ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(file, ": not a regular file");
  const uint64_t file_bytes = uint64_t(st.st_size);
  if (file_bytes < 8) {
    fail(file, ": file is ", file_bytes,
         " bytes, shorter than the 8-byte header length of a safetensors file (truncated?)");
  }

  std::shared_ptr<Mapping> mapping(new Mapping, UnmapOnLastView{});
  void* addr = ::mmap(nullptr, file_bytes, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (addr == MAP_FAILED)
    fail(file, ": mmap of ", file_bytes, " bytes failed: ", std::strerror(errno));
  mapping->addr = addr;
  mapping->bytes = file_bytes;
  const auto* base = static_cast<const unsigned char*>(addr);

  const uint64_t header_bytes = read_le64(base);
  if (header_bytes > kMaxHeaderBytes) {
    fail(file, ": header length ", header_bytes, " bytes is absurd (limit ", kMaxHeaderBytes,
         "); not a safetensors file or corrupt");
  }
  if (header_bytes > file_bytes - 8) {
    fail(file, ": header length ", header_bytes, " bytes exceeds the ", file_bytes - 8,
         " bytes after the length field (truncated?)");
  }
  const uint64_t data_bytes = file_bytes - 8 - header_bytes;

  const nlohmann::json header =
      parse_header(file, reinterpret_cast<const char*>(base + 8),
                   reinterpret_cast<const char*>(base + 8 + header_bytes));
  if (!header.is_object()) fail(file, ": header is ", header.type_name(), ", expected an object");

  SafetensorsFile f;
  f.path_ = path;
  f.data_ = reinterpret_cast<const char*>(base + 8 + header_bytes);
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object())
        fail(file, ": __metadata__ is ", excerpt(entry.dump()), ", expected an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          fail(file, ": __metadata__ key '", excerpt(key), "' is ", excerpt(value.dump()),
               ", expected a string");
        }
        f.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = str_cat(file, ": tensor ", excerpt(name));
    if (!entry.is_object())
      fail(where, ": entry is ", excerpt(entry.dump()), ", expected an object");
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(key)) fail(where, ": entry is missing '", key, "'");
    }
    TensorInfo info;
    if (!entry["dtype"].is_string())
      fail(where, ": 'dtype' is ", excerpt(entry["dtype"].dump()), ", expected a string");
    try {
      info.dtype = dtype_from_name(entry["dtype"].get<std::string>());
    } catch (const Error& e) {
      fail(where, ": ", e.what());
    }
    info.shape = parse_shape(entry["shape"], where);
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      fail(where, ": 'data_offsets' is ", excerpt(offsets.dump()), ", expected [begin, end]");
    }
    info.begin = offsets[0].get<uint64_t>();
    info.end = offsets[1].get<uint64_t>();
    if (info.begin > info.end || info.end > data_bytes) {
      fail(where, ": data_offsets [", info.begin, ",", info.end,
           "] are not a range within the data section of ", data_bytes, " bytes");
    }
    const uint64_t expected = tensor_bytes(info.shape, info.dtype, where);
    if (info.end - info.begin != expected) {
      fail(where, ": data_offsets [", info.begin, ",", info.end, "] span ", info.end - info.begin,
           " bytes, but ", dtype_name(info.dtype), shape_str(info.shape), " needs ", expected);
    }
    f.entries_.emplace(name, std::move(info));
  }
  require_exact_cover(file, f.entries_, data_bytes);
  f.mapping_ = std::move(mapping);
  return f;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::pair<uint64_t, std::string>> by_offset;
  for (const auto& [name, info] : entries_) by_offset.emplace_back(info.begin, name);
  std::sort(by_offset.begin(), by_offset.end());
  std::vector<std::string> out;
  for (auto& [offset, name] : by_offset) out.push_back(std::move(name));
  return out;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_.string(), ": no tensor named ", name);
  return it->second;
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorInfo& i = info(name);
  // The mapping is PROT_READ: the view is for reading (or converting) only.
  return Tensor::borrow(const_cast<char*>(data_ + i.begin), i.shape, i.dtype, mapping_);
}

void release_mapped_pages(const Tensor& view) {
  if (!view.defined() || !std::get_deleter<UnmapOnLastView>(view.owner())) return;
  const auto* mapping = static_cast<const SafetensorsFile::Mapping*>(view.owner().get());
  const auto page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const auto map_begin = reinterpret_cast<uintptr_t>(mapping->addr);
  const uintptr_t map_end = map_begin + mapping->bytes;
  const auto data = reinterpret_cast<uintptr_t>(view.raw_data());
  // Whole pages around the tensor: a neighbour's share of an edge page is read again if needed.
  const uintptr_t begin = std::max(map_begin, data / page * page);
  const uintptr_t end = std::min(map_end, (data + view.nbytes() + page - 1) / page * page);
  // A read-only private mapping: dropping pages loses nothing. Failure only costs memory.
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

namespace {

class TempFile {
 public:
  explicit TempFile(std::filesystem::path path) : path_(std::move(path)) {}
  ~TempFile() {
    if (file_) std::fclose(file_);
    if (!committed_) {
      std::error_code ec;
      std::filesystem::remove(path_, ec);
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void open() {
    file_ = std::fopen(path_.c_str(), "wb");
    if (!file_) fail(path_.string(), ": cannot create: ", std::strerror(errno));
  }
  void write(const void* data, size_t bytes) {
    if (bytes && std::fwrite(data, 1, bytes, file_) != bytes) {
      fail(path_.string(), ": write failed: ", std::strerror(errno));
    }
  }
  void commit_as(const std::filesystem::path& final_path) {
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) fail(path_.string(), ": close failed: ", std::strerror(errno));
    std::error_code ec;
    std::filesystem::rename(path_, final_path, ec);
    if (ec) fail(final_path.string(), ": cannot rename from ", path_.string(), ": ", ec.message());
    committed_ = true;
  }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

struct HeaderEntry {
  std::string name;
  DType dtype;
  Shape shape;
};

// The file's first bytes for tensors stored back to back in `entries` order: the 8-byte header
// length and the JSON header, padded with spaces to a multiple of 8.
std::string encode_header(const std::string& file, std::span<const HeaderEntry> entries,
                          const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const HeaderEntry& e : entries) {
    FV_CHECK(e.name != "__metadata__", file,
             ": '__metadata__' is reserved and cannot name a tensor");
    FV_CHECK(seen.insert(e.name).second, file, ": tensor ", e.name, " is given twice");
    const uint64_t bytes = tensor_bytes(e.shape, e.dtype, file + ": " + e.name);
    header[e.name] = {{"dtype", std::string(dtype_name(e.dtype))},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string prefix(8, '\0');
  write_le64(reinterpret_cast<unsigned char*>(prefix.data()), json.size());
  return prefix + json;
}

}  // namespace

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string file = path.string();
  std::vector<Tensor> packed;
  std::vector<HeaderEntry> entries;
  for (const auto& [name, t] : tensors) {
    FV_CHECK(t.defined(), file, ": tensor ", name, " is undefined");
    FV_CHECK(t.device().is_cpu(), file, ": tensor ", name, " is on ", t.device().name(),
             ", expected a CPU tensor");
    packed.push_back(t.contiguous());
    entries.push_back({name, t.dtype(), t.shape()});
  }
  const std::string prefix = encode_header(file, entries, metadata);

  std::filesystem::path tmp = path;
  tmp += ".tmp";
  TempFile out(tmp);
  out.open();
  out.write(prefix.data(), prefix.size());
  for (const Tensor& t : packed) out.write(t.raw_data(), t.nbytes());
  out.commit_as(path);
}

void write_safetensors_streamed(const std::filesystem::path& path,
                                std::span<const TensorSpec> tensors, DType stored_dtype,
                                const TensorFiller& fill,
                                const std::map<std::string, std::string>& metadata,
                                int64_t chunk_elements) {
  const std::string file = path.string();
  FV_CHECK(stored_dtype == DType::F32 || stored_dtype == DType::BF16 || stored_dtype == DType::F16,
           file, ": stored dtype ", dtype_name(stored_dtype), " is not F32, BF16 or F16");
  FV_CHECK(chunk_elements > 0, file, ": chunk size ", chunk_elements, " must be positive");
  // The header is the one write_safetensors gives for tensors of these shapes and this dtype.
  std::vector<HeaderEntry> entries;
  for (const TensorSpec& spec : tensors) entries.push_back({spec.name, stored_dtype, spec.shape});
  const std::string prefix = encode_header(file, entries, metadata);

  std::filesystem::path tmp = path;
  tmp += ".tmp";
  TempFile out(tmp);
  out.open();
  out.write(prefix.data(), prefix.size());
  std::vector<float> values;
  std::vector<unsigned char> stored;
  const size_t element_bytes = dtype_size(stored_dtype);
  for (const TensorSpec& spec : tensors) {
    const int64_t n = shape_numel(spec.shape);
    for (int64_t first = 0; first < n; first += chunk_elements) {
      const size_t count = size_t(std::min(chunk_elements, n - first));
      values.resize(count);
      fill(spec, first, std::span<float>(values.data(), count));
      if (stored_dtype == DType::F32) {
        out.write(values.data(), count * sizeof(float));
      } else {
        stored.resize(count * element_bytes);
        const size_t bad =
            convert_floats(values.data(), DType::F32, stored.data(), stored_dtype, count);
        if (bad < count)
          fail_non_finite_weight(str_cat(path.string(), ": tensor ", spec.name),
                                 size_t(first) + bad, size_t(n));
        out.write(stored.data(), stored.size());
      }
    }
  }
  out.commit_as(path);
}

}  // namespace fastvideo
