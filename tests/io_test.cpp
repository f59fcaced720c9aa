// Checkpoint loading (wan21.md §5): safetensors round trips in every stored dtype, the diffusers
// sharded layout, and one test per kind of bad input whose error must name the culprit.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "core/excerpt.h"
#include "io/checkpoint.h"
#include "io/float_conversion.h"
#include "io/json_parse.h"
#include "io/safetensors.h"
#include "io/text_file.h"
#include "models/umt5/umt5_config.h"
#include "models/wan/dit/wan_transformer_config.h"
#include "models/wan/vae/wan_vae_config.h"
#include "pipeline/wan_checkpoint.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::error_of;
using testing::randn;
using testing::rel_l2;

// Runs `fn`, which must throw fastvideo::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) {
      EXPECT_NE(msg.find(p), std::string::npos) << "error message lacks '" << p << "': " << msg;
    }
    return;
  }
  ADD_FAILURE() << "expected a fastvideo::Error naming " << ::testing::PrintToString(parts);
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A safetensors file built by hand: length field (given or true), header text, data bytes.
void write_raw_safetensors(const fs::path& path, const std::string& header, size_t data_bytes,
                           std::optional<uint64_t> header_length = std::nullopt) {
  std::string bytes(8, '\0');
  const uint64_t n = header_length.value_or(header.size());
  for (int i = 0; i < 8; ++i) bytes[i] = char((n >> (8 * i)) & 0xff);
  bytes += header;
  bytes.append(data_bytes, '\x11');
  write_text(path, bytes);
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), a.nbytes()) == 0;
}

class IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           str_cat("fastvideo_io_test_", info->name(), "_", std::random_device{}());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A small transformer-like component: tensors of several ranks, F32 originals.
  std::vector<std::pair<std::string, Tensor>> sample_tensors() const {
    return {{"patch_embedding.weight", randn({8, 4, 1, 2, 2})},
            {"patch_embedding.bias", randn({8})},
            {"blocks.0.attn1.to_q.weight", randn({8, 8})},
            {"blocks.0.attn1.to_q.bias", randn({8})},
            {"blocks.0.ffn.net.0.proj.weight", randn({32, 8})},
            {"scale_shift_table", randn({1, 2, 8})}};
  }
  static std::vector<TensorSpec> specs_of(const std::vector<std::pair<std::string, Tensor>>& ts) {
    std::vector<TensorSpec> specs;
    for (const auto& [name, t] : ts) specs.push_back({name, t.shape(), true});
    return specs;
  }

  // A WanPipeline folder with every component folder and small configs.
  void make_wan_folder() {
    write_text(dir_ / "model_index.json", R"({
      "_class_name": "WanPipeline", "_diffusers_version": "0.33.0.dev0",
      "scheduler": ["diffusers", "UniPCMultistepScheduler"],
      "text_encoder": ["transformers", "UMT5EncoderModel"],
      "tokenizer": ["transformers", "T5TokenizerFast"],
      "transformer": ["diffusers", "WanTransformer3DModel"],
      "vae": ["diffusers", "AutoencoderKLWan"]})");
    for (const char* c : {"scheduler", "text_encoder", "tokenizer", "transformer", "vae"}) {
      fs::create_directories(dir_ / c);
    }
    write_text(dir_ / "transformer/config.json",
               R"({"_class_name": "WanTransformer3DModel", "num_layers": 2})");
    write_text(dir_ / "scheduler/scheduler_config.json",
               R"({"_class_name": "UniPCMultistepScheduler", "flow_shift": 3.0})");
  }

  fs::path dir_;
};

// convert_floats finds the first value that is NaN or Inf once converted, across the pieces and
// threads it works in: each non-finite kind in each dtype, the earliest of several, none at all,
// and a finite f32 past F16's range (it becomes Inf, which no F16 weight can use either).
TEST(FloatConversion, FindsTheFirstNonFiniteValueOnceConverted) {
  const size_t n = 300001;  // several pieces per thread, the last one short
  std::vector<float> src(n);
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> normal;
  for (float& x : src) x = normal(rng);
  std::vector<uint8_t> dst(n * 4);
  for (DType to : {DType::F32, DType::BF16, DType::F16}) {
    EXPECT_EQ(convert_floats(src.data(), DType::F32, dst.data(), to, n), n) << dtype_name(to);
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      std::vector<float> damaged = src;
      damaged[n - 5] = bad;
      damaged[200003] = bad;
      damaged[70001] = bad;
      EXPECT_EQ(convert_floats(damaged.data(), DType::F32, dst.data(), to, n), 70001u)
          << dtype_name(to) << " " << bad;
      // The same from a BF16 source.
      std::vector<uint16_t> bf16(n);
      convert_from_f32(damaged.data(), bf16.data(), DType::BF16, n);
      EXPECT_EQ(convert_floats(bf16.data(), DType::BF16, dst.data(), to, n), 70001u)
          << "bf16 -> " << dtype_name(to) << " " << bad;
    }
  }
  std::vector<float> large = src;
  large[9] = 1e6f;
  EXPECT_EQ(convert_floats(large.data(), DType::F32, dst.data(), DType::F16, n), 9u);
  EXPECT_EQ(convert_floats(large.data(), DType::F32, dst.data(), DType::BF16, n), n);
}

// A text file a user names is read only when it is a regular file of sane size (QA fuzzing: a
// FIFO as the prompt file blocked the run past SIGTERM, /dev/zero filled memory).
TEST(TextFile, OnlyARegularFileWithinTheBoundIsRead) {
  const std::filesystem::path dir = testing::temp_dir("text-file");
  std::ofstream(dir / "ok.txt") << "a fox\n";
  EXPECT_EQ(read_text_file(dir / "ok.txt", "a prompt file"), "a fox\n");
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  for (const auto& [path, why] : std::vector<std::pair<std::filesystem::path, std::string>>{
           {dir / "fifo", "fifo: is not a regular file (a prompt file)"},
           {"/dev/zero", "/dev/zero: is not a regular file"},
           {dir, "is a directory"},
           {dir / "missing", "missing: does not exist"},
           {"", "a prompt file: the path is empty"}}) {
    EXPECT_TRUE(contains(error_of([&] { read_text_file(path, "a prompt file"); }), why)) << why;
  }
  EXPECT_TRUE(contains(error_of([&] { read_text_file(dir / "ok.txt", "x", 4); }),
                       "ok.txt: more than 4 bytes; x is at most that"));
}

TEST(Excerpt, ShortTextIsQuotedWholeAndLongTextByItsStartAndSize) {
  EXPECT_EQ(excerpt("WanPipeline"), "WanPipeline");
  EXPECT_EQ(excerpt(std::string(kExcerptChars, 'a')), std::string(kExcerptChars, 'a'));
  EXPECT_EQ(excerpt(std::string(1'000'000, 'a')),
            std::string(kExcerptChars, 'a') + "... (1000000 bytes)");
  // "é" is two bytes: one that would straddle the cut is left out whole.
  const std::string accents = std::string(kExcerptChars - 1, 'a') + "\xc3\xa9" + "tail";
  EXPECT_EQ(excerpt(accents),
            std::string(kExcerptChars - 1, 'a') + str_cat("... (", accents.size(), " bytes)"));
  // Control bytes are shown escaped: a NUL cut a message short, ESC reached the terminal.
  EXPECT_EQ(excerpt(std::string("H64\0 \x1b[2J\x7f", 10)), "H64\\x00 \\x1b[2J\\x7f");
  EXPECT_EQ(excerpt("a:\n\tb"), "a:\\n\\tb");
  // UTF-8 stays as it is; bytes that are not UTF-8, and C1 controls, are escaped.
  EXPECT_EQ(excerpt("r\xc3\xa9sum\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\xa6\x8a"),
            "r\xc3\xa9sum\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\xa6\x8a");
  EXPECT_EQ(excerpt("C\xff\xfe \xc2\x9b \xed\xa0\x80 \xf8\x80\x80\x80"),
            "C\\xff\\xfe \\xc2\\x9b \\xed\\xa0\\x80 \\xf8\\x80\\x80\\x80");
}

JsonFile json_file(const std::string& text) {
  return JsonFile(nlohmann::json::parse(text), "config.json");
}

// Calls get<T>(key) on `text`, which must throw naming the file, the key and `shown`.
template <class T>
void expect_refused(const std::string& text, const std::string& key, const std::string& shown) {
  SCOPED_TRACE(text);
  expect_error([&] { json_file(text).get<T>("n"); }, {"config.json", "'" + key + "'", shown});
}

TEST(JsonFile, IntegersMustBeWholeNumbersWithinTheirType) {
  expect_refused<int>(R"({"n": 4294967298})", "n", "4294967298, expected an integer from");
  expect_refused<int>(R"({"n": 2.5})", "n", "2.5");
  expect_refused<int>(R"({"n": 1e12})", "n", "1000000000000");
  expect_refused<int>(R"({"n": -2147483649})", "n", "-2147483649");
  expect_refused<int>(R"({"n": true})", "n", "true");
  expect_refused<int>(R"({"n": "3"})", "n", "\"3\"");
  expect_refused<uint64_t>(R"({"n": -1})", "n", "-1");
  expect_refused<std::vector<int>>(R"({"n": [1, 2, 2.5]})", "n[2]", "2.5");
  // A whole number written as a float is that number.
  EXPECT_EQ(json_file(R"({"n": 2.0})").get<int>("n"), 2);
  EXPECT_EQ(json_file(R"({"n": 1e3})").get<int>("n"), 1000);
  EXPECT_EQ(json_file(R"({"n": -7})").get<int>("n"), -7);
  EXPECT_EQ(json_file(R"({"n": 2147483647})").get<int>("n"), 2147483647);
  EXPECT_EQ(json_file(R"({"n": 9007199254740993})").get<int64_t>("n"), 9007199254740993);
  EXPECT_EQ(json_file(R"({"n": [1, 2.0, 4]})").get<std::vector<int>>("n"),
            (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(json_file(R"({})").get_or<int>("n", 5), 5);
}

TEST(JsonFile, FloatsMustBeFiniteNumbersBooleansAndStringsTheirType) {
  expect_refused<float>(R"({"n": 1e39})", "n", "1e+39");
  expect_refused<double>(R"({"n": false})", "n", "false");
  expect_refused<std::vector<float>>(R"({"n": [1, "x"]})", "n[1]", "\"x\"");
  expect_refused<bool>(R"({"n": 1})", "n", "1, expected true or false");
  expect_refused<std::string>(R"({"n": 5})", "n", "5, expected a string");
  EXPECT_EQ(json_file(R"({"n": 1e39})").get<double>("n"), 1e39);
  EXPECT_EQ(json_file(R"({"n": 3})").get<float>("n"), 3.0f);
  EXPECT_EQ(json_file(R"({"n": true})").get<bool>("n"), true);
  EXPECT_EQ(json_file(R"({"n": [true, false]})").get<std::vector<bool>>("n"),
            (std::vector<bool>{true, false}));
}

TEST_F(IoTest, ANumberBeyondDoubleInAFileIsAnErrorNamingTheFile) {
  write_text(dir_ / "config.json", R"({"num_layers": 1e400})");
  expect_error([&] { JsonFile::load(dir_ / "config.json"); },
               {(dir_ / "config.json").string(), "malformed JSON", "1e400"});
  const fs::path file = dir_ / "overflow.safetensors";
  write_raw_safetensors(file, R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})", 4);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "1e400"});
}

// Nesting past kMaxJsonDepth is refused before anything walks the value (printing 100,000 levels
// overflowed the stack); brackets inside strings, escaped quotes included, do not count.
TEST_F(IoTest, JsonNestedPastTheBoundIsRefusedWhereItStarts) {
  const auto nested = [](int levels) {
    return std::string(size_t(levels), '[') + std::string(size_t(levels), ']');
  };
  EXPECT_EQ(json_too_deep_at(nested(kMaxJsonDepth)), -1);
  EXPECT_EQ(json_too_deep_at(nested(kMaxJsonDepth + 1)), kMaxJsonDepth);
  EXPECT_EQ(json_too_deep_at(R"({"a": "[[[[\"[[[[", "b": [{}]})"), -1);
  EXPECT_EQ(json_too_deep_at("[\"" + std::string(100, '[') + "\"]"), -1);
  EXPECT_NO_THROW(parse_json(nested(kMaxJsonDepth)));
  try {
    parse_json(" " + nested(100000));
    ADD_FAILURE() << "100,000 levels parsed";
  } catch (const nlohmann::json::parse_error& e) {
    EXPECT_EQ(e.byte, size_t(kMaxJsonDepth) + 2);
    EXPECT_TRUE(testing::contains(e.what(), "nesting deeper than 64 levels")) << e.what();
  }
  write_text(dir_ / "config.json", "{\"dim\": " + nested(100000) + "}");
  expect_error([&] { JsonFile::load(dir_ / "config.json"); },
               {(dir_ / "config.json").string(), "malformed JSON", "deeper than 64 levels"});
  const fs::path file = dir_ / "deep.safetensors";
  write_raw_safetensors(file, "{\"w\": " + nested(1000) + "}", 4);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "deeper than 64 levels"});
}

TEST_F(IoTest, HugeNamesInAnIndexAreQuotedByTheirStartAndSize) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "t", "model", tensors, 2, DType::F32);
  const std::string huge(1'000'000, 'x');
  write_text(dir_ / "t/model.safetensors.index.json",
             nlohmann::json{{"weight_map", {{huge, 7}}}}.dump());
  try {
    load_component(dir_ / "t", specs_of(tensors));
    ADD_FAILURE() << "a weight_map entry that is not a file name was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("model.safetensors.index.json"), std::string::npos) << message;
    EXPECT_NE(message.find("xxx... (1000000 bytes)"), std::string::npos) << message;
    EXPECT_LT(message.size(), 400u) << "the message quotes the whole name";
  }
}

TEST_F(IoTest, SafetensorsRoundTripIsBitExactInEveryFloatDtype) {
  const Tensor f32 = randn({3, 5}), bf16 = randn({7}).to(DType::BF16),
               f16 = randn({2, 2, 3}).to(DType::F16);
  const fs::path file = dir_ / "t.safetensors";
  write_safetensors(file, {{"a", f32}, {"b", bf16}, {"c", f16}}, {{"format", "pt"}});
  EXPECT_FALSE(fs::exists(dir_ / "t.safetensors.tmp"));
  const std::string bytes = testing::file_bytes(file);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | uint8_t(bytes[i]);
  EXPECT_EQ(header_length % 8, 0u) << "header must be padded to a multiple of 8";
  EXPECT_EQ(bytes.size(), 8 + header_length + f32.nbytes() + bf16.nbytes() + f16.nbytes());

  const SafetensorsFile f = SafetensorsFile::open(file);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.info("b").dtype, DType::BF16);
  EXPECT_EQ(f.info("c").shape, (Shape{2, 2, 3}));
  EXPECT_TRUE(bit_equal(f.tensor("a"), f32));
  EXPECT_TRUE(bit_equal(f.tensor("b"), bf16));
  EXPECT_TRUE(bit_equal(f.tensor("c"), f16));
}

TEST_F(IoTest, BorrowedTensorKeepsTheMappingAliveAfterTheFileObjectIsGone) {
  const Tensor x = randn({64});
  write_safetensors(dir_ / "t.safetensors", {{"x", x}});
  Tensor view;
  {
    const SafetensorsFile f = SafetensorsFile::open(dir_ / "t.safetensors");
    view = f.tensor("x");
  }
  EXPECT_TRUE(bit_equal(view, x));
}

// Resident set size of this process now (Linux /proc/self/statm), in bytes.
int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

TEST_F(IoTest, ReleasedTensorPagesLeaveResidentMemoryAndReadBackTheSame) {
  const Tensor x = randn({16 << 20});  // 64 MiB
  write_safetensors(dir_ / "t.safetensors", {{"x", x}});
  const SafetensorsFile f = SafetensorsFile::open(dir_ / "t.safetensors");
  const Tensor view = f.tensor("x");
  float sum = 0;  // touch every page of the mapping
  for (float v : view.f32()) sum += v;
  const int64_t touched = resident_bytes();
  release_mapped_pages(view);
  const int64_t released = resident_bytes();
  EXPECT_GT(touched - released, 48 << 20) << "the loader relies on this to never hold a "
                                             "checkpoint in its mapping and its copy at once";
  EXPECT_TRUE(bit_equal(view, x)) << sum;  // read again from the file
}

TEST_F(IoTest, ReleasingPagesLeavesTensorsOutsideAMappingAlone) {
  const Tensor x = randn({4 << 20});  // 16 MiB on the heap: madvise would zero it
  const Tensor kept = x.clone();
  release_mapped_pages(x);
  release_mapped_pages(Tensor());
  EXPECT_TRUE(bit_equal(x, kept));
}

TEST_F(IoTest, LoadComponentConvertsEachStoredDtypeToF32) {
  // Bounds: bf16 keeps 8 mantissa bits, f16 11 (relative rounding error 2^-9, 2^-12).
  const std::vector<std::pair<DType, double>> cases = {
      {DType::F32, 0.0}, {DType::BF16, 4e-3}, {DType::F16, 5e-4}};
  for (const auto& [stored, bound] : cases) {
    SCOPED_TRACE(std::string(dtype_name(stored)));
    const fs::path comp = dir_ / std::string(dtype_name(stored));
    const auto tensors = sample_tensors();
    write_component(comp, "diffusion_pytorch_model", tensors, 1, stored);
    EXPECT_TRUE(fs::exists(comp / "diffusion_pytorch_model.safetensors"));
    EXPECT_EQ(SafetensorsFile::open(comp / "diffusion_pytorch_model.safetensors")
                  .info("scale_shift_table")
                  .dtype,
              stored);

    const Weights w = load_component(comp, specs_of(tensors));
    EXPECT_EQ(w.all().size(), tensors.size());
    for (const auto& [name, original] : tensors) {
      const Tensor& loaded = w.get(name);
      EXPECT_EQ(loaded.dtype(), DType::F32) << name;
      EXPECT_TRUE(bit_equal(loaded, original.to(stored).to(DType::F32)))
          << name << " differs from the f32 value of its stored " << dtype_name(stored);
      EXPECT_LE(rel_l2(loaded, original), bound) << name;
    }
  }
}

TEST_F(IoTest, LoadComponentConvertsToABf16ComputeDtype) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "vae", "diffusion_pytorch_model", tensors, 1, DType::F32);
  const Weights w = load_component(dir_ / "vae", specs_of(tensors), DType::BF16);
  for (const auto& [name, original] : tensors) {
    EXPECT_TRUE(bit_equal(w.get(name), original.to(DType::BF16))) << name;
  }
}

TEST_F(IoTest, LoadComponentKeepsTheNamedTensorsInF32) {
  // wan21.md §1.2: a bf16 load keeps a keep-list in f32, at the checkpoint's full precision.
  const auto tensors = sample_tensors();
  write_component(dir_ / "transformer", "diffusion_pytorch_model", tensors, 1, DType::F32);
  const std::set<std::string> keep = {"scale_shift_table", "patch_embedding.bias"};
  const Weights w =
      load_component(dir_ / "transformer", specs_of(tensors), DType::BF16, Device::cpu(), &keep);
  for (const auto& [name, original] : tensors) {
    const DType expected = keep.count(name) ? DType::F32 : DType::BF16;
    EXPECT_EQ(w.get(name).dtype(), expected) << name;
    EXPECT_TRUE(bit_equal(w.get(name), original.to(expected))) << name;
  }
}

TEST_F(IoTest, LoadComponentLeavesThePrefixedTensorsMappedInTheirStoredDtype) {
  // Layerwise offload takes the blocks so: it copies or streams them itself.
  const auto tensors = sample_tensors();
  write_component(dir_ / "transformer", "diffusion_pytorch_model", tensors, 1, DType::BF16);
  const Weights w = load_component(dir_ / "transformer", specs_of(tensors), DType::F32,
                                   Device::cpu(), nullptr, "blocks.");
  for (const auto& [name, original] : tensors) {
    const bool mapped = name.starts_with("blocks.");
    EXPECT_EQ(w.get(name).dtype(), mapped ? DType::BF16 : DType::F32) << name;
    EXPECT_TRUE(bit_equal(w.get(name).to(DType::F32), original.to(DType::BF16).to(DType::F32)))
        << name;
  }
}

TEST_F(IoTest, ShardedRoundTripGoesThroughTheIndex) {
  const auto tensors = sample_tensors();
  const fs::path comp = dir_ / "text_encoder";
  write_component(comp, "model", tensors, 3, DType::BF16);
  for (const char* shard : {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                            "model-00003-of-00003.safetensors"}) {
    ASSERT_TRUE(fs::exists(comp / shard)) << shard;
    EXPECT_FALSE(SafetensorsFile::open(comp / shard).names().empty()) << shard << " is empty";
  }
  EXPECT_FALSE(fs::exists(comp / "model.safetensors"));
  const auto index =
      nlohmann::json::parse(testing::file_bytes(comp / "model.safetensors.index.json"));
  int64_t total = 0;
  for (const auto& [name, t] : tensors) total += t.numel() * 2;
  EXPECT_EQ(index["metadata"]["total_size"].get<int64_t>(), total);
  EXPECT_EQ(index["weight_map"].size(), tensors.size());
  for (const auto& [name, shard] : index["weight_map"].items()) {
    EXPECT_TRUE(SafetensorsFile::open(comp / shard.get<std::string>()).contains(name)) << name;
  }

  const Weights w = load_component(comp, specs_of(tensors));
  for (const auto& [name, original] : tensors) {
    EXPECT_TRUE(bit_equal(w.get(name), original.to(DType::BF16).to(DType::F32))) << name;
  }
}

TEST_F(IoTest, RewritingAsOneFileRemovesTheOldShards) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "t", "model", tensors, 2, DType::F32);
  write_component(dir_ / "t", "model", tensors, 1, DType::F32);
  EXPECT_FALSE(fs::exists(dir_ / "t/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir_ / "t/model-00001-of-00002.safetensors"));
  EXPECT_EQ(load_component(dir_ / "t", specs_of(tensors)).all().size(), tensors.size());
}

TEST_F(IoTest, FileShorterThanTheLengthFieldIsRejected) {
  const fs::path file = dir_ / "short.safetensors";
  write_text(file, "abcde");
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "5 bytes", "8-byte"});
}

TEST_F(IoTest, TruncatedDataIsRejected) {
  const fs::path file = dir_ / "cut.safetensors";
  write_safetensors(file, {{"w", randn({16})}});
  fs::resize_file(file, fs::file_size(file) - 10);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "tensor w", "[0,64]"});
}

TEST_F(IoTest, HeaderThatIsNotJsonIsRejected) {
  const fs::path file = dir_ / "bad.safetensors";
  write_raw_safetensors(file, "{\"w\": {\"dtype\": F32 ", 0);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "not valid JSON"});
}

TEST_F(IoTest, HeaderLengthBeyondTheFileIsRejected) {
  const fs::path file = dir_ / "long.safetensors";
  write_raw_safetensors(file, "{}", 4, 1000);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "1000", "exceeds"});
}

TEST_F(IoTest, AbsurdHeaderLengthIsRejected) {
  const fs::path file = dir_ / "absurd.safetensors";
  write_raw_safetensors(file, "{}", 0, uint64_t(1) << 40);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "absurd"});
}

TEST_F(IoTest, DataOffsetsOutsideTheDataSectionAreRejected) {
  const fs::path file = dir_ / "offsets.safetensors";
  write_raw_safetensors(file, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", 16);
  expect_error([&] { SafetensorsFile::open(file); },
               {file.string(), "tensor w", "[8,24]", "16 bytes"});
}

TEST_F(IoTest, DataOffsetsThatDisagreeWithTheShapeAreRejected) {
  const fs::path file = dir_ / "span.safetensors";
  write_raw_safetensors(file, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "tensor w", "needs 12"});
}

TEST_F(IoTest, EntryWithoutDtypeIsRejected) {
  const fs::path file = dir_ / "nodtype.safetensors";
  write_raw_safetensors(file, R"({"w":{"shape":[2],"data_offsets":[0,8]}})", 8);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "tensor w", "'dtype'"});
}

TEST_F(IoTest, UnknownDtypeIsRejected) {
  const fs::path file = dir_ / "f64.safetensors";
  write_raw_safetensors(file, R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "tensor w", "'F64'"});
}

TEST_F(IoTest, DuplicateKeysInAHeaderAreRejected) {
  const fs::path file = dir_ / "twice.safetensors";
  write_raw_safetensors(file,
                        R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        8);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "key \"w\" twice"});
  write_raw_safetensors(
      file, R"({"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", 4);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "key \"dtype\" twice"});
  write_raw_safetensors(file, R"({"__metadata__":{"format":"pt","format":"np"}})", 0);
  expect_error([&] { SafetensorsFile::open(file); }, {file.string(), "key \"format\" twice"});
}

TEST_F(IoTest, TensorsMustCoverTheDataSectionWithoutOverlapOrHole) {
  const fs::path file = dir_ / "cover.safetensors";
  // F32 tensors a and b of `a_begin`..`b_end` bytes, in a data section of `data_bytes`.
  struct Case {
    int a_begin, a_end, b_begin, b_end, data_bytes;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {0, 8, 0, 8, 8, "tensors a [0,8] and b [0,8] overlap"},  // two names, same bytes
           {0, 8, 4, 12, 12, "tensors a [0,8] and b [4,12] overlap"},
           {0, 4, 8, 12, 12, "data bytes [4,8) before tensor b belong to no tensor"},
           {0, 4, 4, 8, 12, "end at byte 8 of the 12-byte data section"}}) {
    const auto entry = [](int begin, int end) {
      return nlohmann::json{
          {"dtype", "F32"}, {"shape", {(end - begin) / 4}}, {"data_offsets", {begin, end}}};
    };
    write_raw_safetensors(
        file,
        nlohmann::json{{"a", entry(c.a_begin, c.a_end)}, {"b", entry(c.b_begin, c.b_end)}}.dump(),
        size_t(c.data_bytes));
    expect_error([&] { SafetensorsFile::open(file); }, {file.string(), c.message});
  }
  // Empty tensors take no bytes (the format allows them).
  write_raw_safetensors(file,
                        R"({"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
                        R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                        4);
  EXPECT_EQ(SafetensorsFile::open(file).info("e").shape, (Shape{0, 3}));
}

TEST_F(IoTest, ShapeBeyondInt64IsRejected) {
  const fs::path file = dir_ / "dims.safetensors";
  write_raw_safetensors(
      file, R"({"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", 0);
  expect_error([&] { SafetensorsFile::open(file); },
               {file.string(), "tensor w", "18446744073709551615"});
}

TEST_F(IoTest, MetadataIsReadable) {
  const fs::path file = dir_ / "meta.safetensors";
  write_raw_safetensors(file, R"({"__metadata__":{"format":"pt","note":"x"}})", 0);
  const auto f = SafetensorsFile::open(file);
  EXPECT_TRUE(f.names().empty());
  EXPECT_EQ(f.metadata().at("note"), "x");
}

TEST_F(IoTest, WrongShapeNamesFileTensorAndBothShapes) {
  auto tensors = sample_tensors();
  write_component(dir_ / "transformer", "diffusion_pytorch_model", tensors, 2, DType::F32);
  auto specs = specs_of(tensors);
  specs[2].shape = {8, 9};
  expect_error([&] { load_component(dir_ / "transformer", specs); },
               {"diffusion_pytorch_model-0000", ".safetensors", "blocks.0.attn1.to_q.weight",
                "[8,8]", "expected [8,9]"});
}

TEST_F(IoTest, MissingTensorNamesFolderTensorAndFilesLookedIn) {
  auto tensors = sample_tensors();
  write_component(dir_ / "vae", "diffusion_pytorch_model", tensors, 1, DType::F32);
  auto specs = specs_of(tensors);
  specs.push_back({"decoder.conv_in.weight", {4, 4}, true});
  expect_error([&] { load_component(dir_ / "vae", specs); },
               {(dir_ / "vae").string(), "decoder.conv_in.weight", "missing",
                "diffusion_pytorch_model.safetensors"});
}

TEST_F(IoTest, UnknownExtraTensorIsWarnedAboutAndNotLoaded) {
  auto tensors = sample_tensors();
  write_component(dir_ / "vae", "diffusion_pytorch_model", tensors, 1, DType::F32);
  auto specs = specs_of(tensors);
  specs.erase(specs.begin());  // patch_embedding.weight becomes an unknown tensor
  ::testing::internal::CaptureStderr();
  const Weights w = load_component(dir_ / "vae", specs);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(w.contains("patch_embedding.weight"));
  EXPECT_EQ(w.all().size(), tensors.size() - 1);
  EXPECT_NE(log.find("1 tensors"), std::string::npos) << log;
  EXPECT_NE(log.find("patch_embedding.weight"), std::string::npos) << log;
}

TEST_F(IoTest, UnusedSpecIsValidatedButNotLoaded) {
  auto tensors = sample_tensors();
  write_component(dir_ / "vae", "diffusion_pytorch_model", tensors, 1, DType::F32);
  auto specs = specs_of(tensors);
  specs[0].used = false;
  EXPECT_FALSE(load_component(dir_ / "vae", specs).contains(specs[0].name));
  specs[0].shape = {1};
  expect_error([&] { load_component(dir_ / "vae", specs); },
               {"patch_embedding.weight", "expected [1]"});
}

TEST_F(IoTest, NonFloatTensorIsRejectedNamingItsDtype) {
  Tensor ids = Tensor::zeros({4}, DType::I32);
  write_safetensors(dir_ / "model.safetensors", {{"ids", ids}});
  expect_error(
      [&] {
        load_component(dir_, {{"ids", {4}, true}});
      },
      {"model.safetensors", "tensor ids", "dtype I32"});
}

TEST_F(IoTest, IndexMappingATensorAbsentFromItsShardIsRejected) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "t", "model", tensors, 2, DType::F32);
  auto index = nlohmann::json::parse(testing::file_bytes(dir_ / "t/model.safetensors.index.json"));
  index["weight_map"]["ghost.weight"] = "model-00002-of-00002.safetensors";
  write_text(dir_ / "t/model.safetensors.index.json", index.dump());
  expect_error([&] { load_component(dir_ / "t", specs_of(tensors)); },
               {"model-00002-of-00002.safetensors", "ghost.weight", "absent"});
}

// A tensor stored in two shards is refused naming both (QA fuzzing: the index's copy was taken
// silently; diffusers would take the last shard's).
TEST_F(IoTest, ATensorStoredInTwoShardsIsRejected) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "t", "model", tensors, 2, DType::F32);
  const auto index =
      nlohmann::json::parse(testing::file_bytes(dir_ / "t/model.safetensors.index.json"));
  std::string in_first;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (shard == "model-00001-of-00002.safetensors") in_first = name;
  }
  ASSERT_FALSE(in_first.empty());
  const fs::path second = dir_ / "t/model-00002-of-00002.safetensors";
  std::vector<std::pair<std::string, Tensor>> held;
  {
    auto file = SafetensorsFile::open(second);
    for (const auto& name : file.names()) held.emplace_back(name, file.tensor(name).clone());
    auto first = SafetensorsFile::open(dir_ / "t/model-00001-of-00002.safetensors");
    held.emplace_back(in_first, first.tensor(in_first).clone());
  }
  fs::remove(second);
  write_safetensors(second, held);
  expect_error([&] { load_component(dir_ / "t", specs_of(tensors)); },
               {"model-00001-of-00002.safetensors and ", "model-00002-of-00002.safetensors",
                "both hold tensor " + in_first});
}

TEST_F(IoTest, IndexNamingAMissingShardIsRejected) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "t", "model", tensors, 2, DType::F32);
  fs::remove(dir_ / "t/model-00001-of-00002.safetensors");
  expect_error(
      [&] { load_component(dir_ / "t", specs_of(tensors)); },
      {"model.safetensors.index.json", "model-00001-of-00002.safetensors", "does not exist"});
}

// A copy of the tiny model whose json files can be edited.
class TinyModelCopy {
 public:
  explicit TinyModelCopy(const fs::path& dir, const std::string& name = "model")
      : dir_(dir / name) {
    fs::copy(testing::tiny_model_dir(), dir_, fs::copy_options::recursive);
  }
  // `file` relative to the checkpoint root, e.g. "vae/config.json".
  void edit_json(const std::string& file, const std::function<void(nlohmann::json&)>& edit) {
    const fs::path path = dir_ / file;
    nlohmann::json j = nlohmann::json::parse(testing::file_bytes(path));
    edit(j);
    write_text(path, j.dump());
  }
  CheckpointFolder open() const { return CheckpointFolder::open(dir_); }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

TEST_F(IoTest, IndexShardNamesWithDirectoryPartsAreRefused) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "t", "model", tensors, 2, DType::F32);
  // A valid file outside the component folder holding every tensor: never to be opened.
  write_safetensors(dir_ / "outside.safetensors", tensors);
  const auto original =
      nlohmann::json::parse(testing::file_bytes(dir_ / "t/model.safetensors.index.json"));
  for (const std::string& shard : std::vector<std::string>{
           "../outside.safetensors", "./model-00001-of-00002.safetensors",
           (dir_ / "outside.safetensors").string(), "a/b.safetensors", "..", ".", ""}) {
    SCOPED_TRACE(shard);
    auto index = original;
    index["weight_map"]["patch_embedding.bias"] = shard;
    write_text(dir_ / "t/model.safetensors.index.json", index.dump());
    expect_error([&] { load_component(dir_ / "t", specs_of(tensors)); },
                 {"model.safetensors.index.json", "weight_map entry patch_embedding.bias",
                  excerpt(nlohmann::json(shard).dump()), "no directory parts"});
  }
}

TEST_F(IoTest, ShardThatIsADirectoryIsReportedAsOne) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "t", "model", tensors, 2, DType::F32);
  fs::remove(dir_ / "t/model-00002-of-00002.safetensors");
  fs::create_directory(dir_ / "t/model-00002-of-00002.safetensors");
  expect_error([&] { load_component(dir_ / "t", specs_of(tensors)); },
               {"model.safetensors.index.json", "model-00002-of-00002.safetensors",
                "is a directory, expected a file"});
  // Single-file weights too.
  write_component(dir_ / "v", "model", tensors, 1, DType::F32);
  fs::remove(dir_ / "v/model.safetensors");
  fs::create_directory(dir_ / "v/model.safetensors");
  expect_error([&] { load_component(dir_ / "v", specs_of(tensors)); },
               {(dir_ / "v/model.safetensors").string(), "is a directory, expected a file"});
}

TEST_F(IoTest, SymlinkLoopsAreNamedNotInternalErrors) {
  // A component folder linked to itself.
  TinyModelCopy model(dir_);
  fs::remove_all(model.dir() / "transformer");
  fs::create_directory_symlink("transformer", model.dir() / "transformer");
  expect_error([&] { model.open(); }, {(model.dir() / "transformer").string(),
                                       "component folder cannot be opened", "symbolic links"});
  // A shard, a single weights file and a config linked to themselves.
  const auto tensors = sample_tensors();
  write_component(dir_ / "t", "model", tensors, 2, DType::F32);
  fs::remove(dir_ / "t/model-00001-of-00002.safetensors");
  fs::create_symlink("model-00001-of-00002.safetensors",
                     dir_ / "t/model-00001-of-00002.safetensors");
  expect_error([&] { load_component(dir_ / "t", specs_of(tensors)); },
               {(dir_ / "t/model-00001-of-00002.safetensors").string(), "cannot be opened",
                "symbolic links"});
  write_component(dir_ / "v", "model", tensors, 1, DType::F32);
  fs::remove(dir_ / "v/model.safetensors");
  fs::create_symlink("model.safetensors", dir_ / "v/model.safetensors");
  expect_error([&] { load_component(dir_ / "v", specs_of(tensors)); },
               {(dir_ / "v/model.safetensors").string(), "cannot be opened", "symbolic links"});
  fs::create_symlink("config.json", dir_ / "v/config.json");
  expect_error([&] { summarize_component(dir_ / "v"); },
               {(dir_ / "v/config.json").string(), "cannot be opened", "symbolic links"});
}

TEST_F(IoTest, CheckpointPathThatIsAFileIsNamedAsAFile) {
  make_wan_folder();
  expect_error([&] { CheckpointFolder::open(dir_ / "model_index.json"); },
               {(dir_ / "model_index.json").string() + ": is a file, expected a folder",
                "checkpoint is the folder holding model_index.json"});
  expect_error([&] { CheckpointFolder::open(dir_ / "nowhere"); },
               {(dir_ / "nowhere").string() + ": does not exist"});
}

TEST_F(IoTest, ComponentNamesWithDirectoryPartsAreRefused) {
  make_wan_folder();
  write_text(dir_ / "model_index.json", R"({
      "_class_name": "WanPipeline", "../transformer": ["diffusers", "WanTransformer3DModel"]})");
  expect_error([&] { CheckpointFolder::open(dir_); },
               {"model_index.json", "component ../transformer", "no directory parts"});
}

TEST_F(IoTest, CheckpointFolderExposesComponentsAndConfigs) {
  make_wan_folder();
  const CheckpointFolder c = CheckpointFolder::open(dir_);
  EXPECT_EQ(c.class_name(), "WanPipeline");
  EXPECT_EQ(c.components(), (std::vector<std::string>{"scheduler", "text_encoder", "tokenizer",
                                                      "transformer", "vae"}));
  EXPECT_EQ(c.path("vae"), dir_ / "vae");
  EXPECT_EQ(c.component_class("transformer"), "WanTransformer3DModel");
  EXPECT_EQ(c.config("transformer").get<int>("num_layers"), 2);
  EXPECT_EQ(c.config("scheduler").get<double>("flow_shift"), 3.0);
  expect_error([&] { c.path("image_encoder"); }, {"model_index.json", "image_encoder"});
}

TEST_F(IoTest, MissingComponentFolderNamesItAndWhatItShouldHold) {
  make_wan_folder();
  fs::remove_all(dir_ / "vae");
  expect_error([&] { CheckpointFolder::open(dir_); },
               {(dir_ / "vae").string(), "AutoencoderKLWan", "config.json",
                "diffusion_pytorch_model.safetensors"});
}

TEST_F(IoTest, MissingModelIndexIsRejected) {
  expect_error([&] { CheckpointFolder::open(dir_); }, {(dir_ / "model_index.json").string()});
}

TEST_F(IoTest, MalformedModelIndexIsRejected) {
  write_text(dir_ / "model_index.json", R"({"_class_name": "WanPipeline", "vae": ["diffusers",)");
  expect_error([&] { CheckpointFolder::open(dir_); },
               {(dir_ / "model_index.json").string(), "malformed JSON"});
}

TEST_F(IoTest, WanPipelineIndexMissingAComponentIsRejected) {
  make_wan_folder();
  write_text(dir_ / "model_index.json",
             R"({"_class_name": "WanPipeline", "vae": ["diffusers", "AutoencoderKLWan"]})");
  expect_error([&] { open_wan_checkpoint(dir_); }, {"model_index.json", "transformer"});
}

TEST_F(IoTest, AWanCheckpointNamesOnlyClassesThisEngineLoads) {
  EXPECT_EQ(open_wan_checkpoint(testing::tiny_model_dir()).class_name(), "WanPipeline");
  struct Case {
    std::string file;
    std::function<void(nlohmann::json&)> edit;
    std::vector<std::string> message;
  };
  const std::vector<Case> cases = {
      {"model_index.json",
       [](auto& j) { j["_class_name"] = "StableDiffusionPipeline"; },
       {"model_index.json: key '_class_name' has value \"StableDiffusionPipeline\"",
        "WanPipeline"}},
      {"model_index.json",
       [](auto& j) { j["_class_name"] = std::string(1'000'000, 'W'); },
       {"model_index.json: key '_class_name' has value \"WWWW", "W... (1000002 bytes); the"}},
      {"model_index.json",
       [](auto& j) {
         j["transformer"] = {"diffusers", "WanVACETransformer3DModel"};
       },
       {"model_index.json: key 'transformer' has class \"WanVACETransformer3DModel\"",
        "WanTransformer3DModel"}},
      {"model_index.json",
       [](auto& j) {
         j["tokenizer"] = {"transformers", "BertTokenizer"};
       },
       {"key 'tokenizer' has class \"BertTokenizer\"", "T5Tokenizer or T5TokenizerFast"}},
      {"model_index.json",
       [](auto& j) {
         j["scheduler"] = {"diffusers", "DDIMScheduler"};
       },
       {"key 'scheduler' has class \"DDIMScheduler\"",
        "UniPCMultistepScheduler or FlowMatchEulerDiscreteScheduler"}},
      {"model_index.json",
       [](auto& j) {
         j["image_encoder"] = {"transformers", "CLIPVisionModel"};
       },
       {"key 'image_encoder' lists a CLIPVisionModel component", "does not use",
        "transformer, text_encoder, tokenizer, vae or scheduler"}},
      {"model_index.json",
       [](auto& j) { j["boundary_ratio"] = 0.875; },
       {"model_index.json: key 'boundary_ratio' has value 0.875",
        "two transformers by timestep, which this engine does not implement"}},
      {"model_index.json",
       [](auto& j) { j["expand_timesteps"] = true; },
       {"key 'expand_timesteps' has value true", "per-token timesteps"}},

      {"vae/config.json",
       [](auto& j) { j["_class_name"] = "AutoencoderKL"; },
       {"vae/config.json: key '_class_name' has value \"AutoencoderKL\"", "AutoencoderKLWan"}},
      {"transformer/config.json",
       [](auto& j) { j.erase("_class_name"); },
       {"transformer/config.json: missing key '_class_name'"}},
      {"text_encoder/config.json",
       [](auto& j) { j["architectures"] = {"T5EncoderModel"}; },
       {"text_encoder/config.json: key 'architectures[0]' has value \"T5EncoderModel\"",
        "UMT5EncoderModel"}},
      {"tokenizer/tokenizer_config.json",
       [](auto& j) { j["tokenizer_class"] = "LlamaTokenizer"; },
       {"tokenizer_config.json: key 'tokenizer_class' has value \"LlamaTokenizer\"",
        "T5Tokenizer or T5TokenizerFast"}},
      {"scheduler/scheduler_config.json",
       [](auto& j) { j["_class_name"] = "FlowMatchEulerDiscreteScheduler"; },
       {"scheduler_config.json: key '_class_name' has value \"FlowMatchEulerDiscreteScheduler\"",
        "model_index.json gives the scheduler class \"UniPCMultistepScheduler\""}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].file);
    TinyModelCopy model(dir_, str_cat("case", i));
    if (cases[i].file == "model_index.json") fs::create_directory(model.dir() / "image_encoder");
    model.edit_json(cases[i].file, cases[i].edit);
    expect_error([&] { open_wan_checkpoint(model.dir()); }, cases[i].message);
  }
  // The other scheduler class, named alike in both files.
  TinyModelCopy euler(dir_, "euler");
  euler.edit_json("model_index.json", [](auto& j) {
    j["scheduler"] = {"diffusers", "FlowMatchEulerDiscreteScheduler"};
  });
  euler.edit_json("scheduler/scheduler_config.json",
                  [](auto& j) { j["_class_name"] = "FlowMatchEulerDiscreteScheduler"; });
  EXPECT_EQ(open_wan_checkpoint(euler.dir()).component_class("scheduler"),
            "FlowMatchEulerDiscreteScheduler");
}

TEST_F(IoTest, MalformedConfigJsonIsRejected) {
  make_wan_folder();
  write_text(dir_ / "transformer/config.json", R"({"num_layers": 2,,})");
  const CheckpointFolder c = CheckpointFolder::open(dir_);
  expect_error([&] { c.config("transformer"); },
               {(dir_ / "transformer/config.json").string(), "malformed JSON"});
  // A byte-order mark: named, where the parser said "unexpected end of input" at column 4.
  write_text(dir_ / "transformer/config.json", "\xEF\xBB\xBF{\"num_layers\": 2}");
  expect_error([&] { c.config("transformer"); },
               {(dir_ / "transformer/config.json").string(), "UTF-8 byte-order mark"});
}

TEST_F(IoTest, ConfigsMustAgreeWithTheBlocksTheirWeightsHold) {
  TinyModelCopy model(dir_);
  // The tiny model agrees with itself.
  EXPECT_EQ(WanTransformerConfig::from_checkpoint(model.open()).num_layers, 2);
  EXPECT_EQ(Umt5Config::from_checkpoint(model.open()).num_layers, 2);
  EXPECT_EQ(WanVaeConfig::from_checkpoint(model.open()).num_levels(), 4);

  model.edit_json("transformer/config.json", [](auto& j) { j["num_layers"] = 3; });
  expect_error([&] { WanTransformerConfig::from_checkpoint(model.open()); },
               {(model.dir() / "transformer/config.json").string(), "'num_layers' has value 3",
                "3 blocks blocks.N.", (model.dir() / "transformer").string(), "hold 2"});
  model.edit_json("text_encoder/config.json", [](auto& j) { j["num_layers"] = 1; });
  expect_error(
      [&] { Umt5Config::from_checkpoint(model.open()); },
      {"text_encoder/config.json", "'num_layers' has value 1", "encoder.block.N.", "hold 2"});
  model.edit_json("vae/config.json", [](auto& j) { j["num_res_blocks"] = 1; });
  expect_error([&] { WanVaeConfig::from_checkpoint(model.open()); },
               {"vae/config.json", "'num_res_blocks' has value 1",
                "2 blocks decoder.up_blocks.0.resnets.N.", "hold 3"});
  model.edit_json("vae/config.json", [](auto& j) {
    j["num_res_blocks"] = 2;
    j["dim_mult"] = {1, 2, 4};
    j["temperal_downsample"] = {false, true};
  });
  expect_error([&] { WanVaeConfig::from_checkpoint(model.open()); },
               {"vae/config.json", "'dim_mult' has value [1,2,4]", "3 blocks decoder.up_blocks.N.",
                "hold 4"});
}

TEST_F(IoTest, UnwritableOutputDirectoryLeavesNoFile) {
  const fs::path target = dir_ / "no_such_dir" / "t.safetensors";
  expect_error(
      [&] {
        write_safetensors(target, {{"w", randn({4})}});
      },
      {(dir_ / "no_such_dir" / "t.safetensors.tmp").string(), "cannot create"});
  EXPECT_FALSE(fs::exists(dir_ / "no_such_dir"));

  // A component folder that cannot be created (a file is in the way).
  write_text(dir_ / "blocker", "x");
  expect_error(
      [&] {
        write_component(dir_ / "blocker" / "vae", "model", {{"w", randn({4})}}, 1, DType::F32);
      },
      {(dir_ / "blocker" / "vae").string(), "cannot create"});
  EXPECT_EQ(fs::file_size(dir_ / "blocker"), 1u);
}

TEST_F(IoTest, SummaryCountsParametersByDtypeFromHeaders) {
  const auto tensors = sample_tensors();
  write_component(dir_ / "transformer", "diffusion_pytorch_model", tensors, 2, DType::BF16);
  write_text(dir_ / "transformer/config.json", R"({"_class_name": "WanTransformer3DModel"})");
  int64_t params = 0;
  for (const auto& [name, t] : tensors) params += t.numel();
  const ComponentSummary s = summarize_component(dir_ / "transformer");
  EXPECT_EQ(s.name, "transformer");
  EXPECT_EQ(s.class_name, "WanTransformer3DModel");
  EXPECT_EQ(s.parameters, params);
  EXPECT_EQ(s.parameters_by_dtype, (std::map<std::string, int64_t>{{"BF16", params}}));
  EXPECT_EQ(s.files,
            (std::vector<std::string>{"diffusion_pytorch_model.safetensors.index.json",
                                      "diffusion_pytorch_model-00001-of-00002.safetensors",
                                      "diffusion_pytorch_model-00002-of-00002.safetensors"}));

  fs::create_directories(dir_ / "scheduler");
  write_text(dir_ / "scheduler/scheduler_config.json",
             R"({"_class_name": "UniPCMultistepScheduler"})");
  const ComponentSummary sched = summarize_component(dir_ / "scheduler");
  EXPECT_EQ(sched.class_name, "UniPCMultistepScheduler");
  EXPECT_EQ(sched.parameters, 0);
  EXPECT_TRUE(sched.files.empty());
}

}  // namespace
}  // namespace fastvideo
