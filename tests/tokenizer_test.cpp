// The T5 tokenizer and prompt cleaning against Hugging Face (wan21.md §3.3), and the tiny
// tokenizer's determinism (docs/tiny-model.md). tests/data/tokenizer_vectors.json comes from
// tools/reference/tokenizer_vectors.py run on the tiny tokenizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>

#include "fastvideo/error.h"
#include "io/json_file.h"
#include "models/wan/wan_geometry.h"
#include "random_checkpoint/tiny_tokenizer.h"
#include "test_util.h"
#include "tokenizer/charsmap_check.h"
#include "tokenizer/prompt_cleaning.h"
#include "tokenizer/t5_tokenizer.h"

namespace fastvideo {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with its content.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("fv_tokenizer_test_" + std::to_string(rd()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The tiny tokenizer, written once for the tests that only read it.
const T5Tokenizer& tiny_tokenizer() {
  static TempDir dir;
  static T5Tokenizer tokenizer = [] {
    write_tiny_tokenizer(dir.path());
    return T5Tokenizer::load(dir.path());
  }();
  return tokenizer;
}

const JsonFile& vectors() {
  static JsonFile file = JsonFile::load(testing::source_path("tests/data/tokenizer_vectors.json"));
  return file;
}

TEST(TinyTokenizer, WritingTwiceGivesByteIdenticalFiles) {
  TempDir a, b;
  write_tiny_tokenizer(a.path());
  write_tiny_tokenizer(b.path() / "nested" / "tokenizer");
  for (const char* name : {"spiece.model", "tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string first = read_bytes(a.path() / name);
    EXPECT_FALSE(first.empty()) << name;
    EXPECT_EQ(first, read_bytes(b.path() / "nested" / "tokenizer" / name)) << name;
  }
  // Rewriting in place replaces the files with the same bytes and leaves no temporaries.
  const std::string model = read_bytes(a.path() / "spiece.model");
  write_tiny_tokenizer(a.path());
  EXPECT_EQ(model, read_bytes(a.path() / "spiece.model"));
  EXPECT_EQ(std::distance(fs::directory_iterator(a.path()), fs::directory_iterator()), 3);
}

TEST(TinyTokenizer, HasT5LayoutAndVocab384) {
  TempDir dir;
  write_tiny_tokenizer(dir.path());
  EXPECT_EQ(T5Tokenizer::load(dir.path()).vocab_size(), kTinyTokenizerVocabSize);
  const JsonFile config = JsonFile::load(dir.path() / "tokenizer_config.json");
  EXPECT_EQ(config.get<std::string>("tokenizer_class"), "T5Tokenizer");
  EXPECT_EQ(config.get<std::string>("eos_token"), "</s>");
  EXPECT_EQ(config.get<std::string>("pad_token"), "<pad>");
  EXPECT_EQ(config.get<std::string>("unk_token"), "<unk>");
  EXPECT_EQ(config.get<int>("model_max_length"), 512);
  const JsonFile special = JsonFile::load(dir.path() / "special_tokens_map.json");
  EXPECT_EQ(special.get<std::string>("eos_token"), "</s>");
  EXPECT_EQ(vectors().get<int>("vocab_size"), kTinyTokenizerVocabSize)
      << "the vectors were made from another tokenizer";
}

// A damaged character map is refused at load (QA fuzzing: 4 bytes at its trie's root crashed the
// first prompt's encoding inside SentencePiece): the root, a unit in the middle, and a leaf's
// string offset past the strings. The intact map passes.
TEST(T5Tokenizer, ADamagedCharacterMapIsRefusedAtLoad) {
  TempDir dir;
  write_tiny_tokenizer(dir.path());
  const std::string model = read_bytes(dir.path() / "spiece.model");
  const auto map = find_precompiled_charsmap(model);
  ASSERT_TRUE(map.has_value()) << "the tiny tokenizer has T5's character map";
  EXPECT_EQ(precompiled_charsmap_problem(model), "");
  uint32_t trie_bytes = 0;
  std::memcpy(&trie_bytes, model.data() + map->offset, 4);
  const size_t trie = map->offset + 4;
  // Every unit of the trie set to all ones, in turn at the root and everywhere.
  for (const size_t count : {size_t(4), size_t(trie_bytes)}) {
    std::string damaged = model;
    std::fill_n(damaged.begin() + std::ptrdiff_t(trie), count, '\xff');
    std::ofstream(dir.path() / "spiece.model", std::ios::binary | std::ios::trunc) << damaged;
    std::string e;
    try {
      T5Tokenizer::load(dir.path());
    } catch (const Error& error) {
      e = error.what();
    }
    EXPECT_NE(e.find("spiece.model: the normalizer's character map is damaged"), std::string::npos)
        << count << " bytes: " << e;
  }
  // The trie size in the map's header past the map.
  std::string damaged = model;
  const uint32_t huge = 0x7FFFFFFC;
  std::memcpy(damaged.data() + map->offset, &huge, 4);
  EXPECT_NE(precompiled_charsmap_problem(damaged), "");
}

TEST(T5Tokenizer, MatchesHuggingFaceOnEveryVector) {
  const auto& list = vectors().json().at("vectors");
  ASSERT_GE(list.size(), 10u);
  for (const auto& v : list) {
    const std::string name = v.at("name"), prompt = v.at("prompt"), cleaned = v.at("cleaned");
    EXPECT_EQ(clean_prompt(prompt), cleaned) << "vector " << name;
    EXPECT_EQ(tiny_tokenizer().encode(prompt, WanGeometry::kTextLength),
              v.at("ids").get<std::vector<int32_t>>())
        << "vector " << name << ", cleaned text '" << cleaned << "'";
  }
}

TEST(T5Tokenizer, TruncatesToMaxLengthKeepingEosLast) {
  std::string prompt;
  for (int i = 0; i < 2000; ++i) prompt += i % 3 ? "camera pans across " : "a quiet lake ";
  const std::vector<int32_t> ids = tiny_tokenizer().encode(prompt, WanGeometry::kTextLength);
  ASSERT_EQ(ids.size(), 512u);
  EXPECT_EQ(ids.back(), T5Tokenizer::kEosId);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), T5Tokenizer::kEosId), 1);

  const std::vector<int32_t> short_ids = tiny_tokenizer().encode(prompt, 10);
  std::vector<int32_t> expected(ids.begin(), ids.begin() + 9);
  expected.push_back(T5Tokenizer::kEosId);
  EXPECT_EQ(short_ids, expected);
  EXPECT_EQ(tiny_tokenizer().encode(prompt, 1), std::vector<int32_t>{T5Tokenizer::kEosId});
  EXPECT_THROW(tiny_tokenizer().encode(prompt, 0), Error);
}

TEST(T5Tokenizer, EmptyOrBlankPromptIsEosOnly) {
  const std::vector<int32_t> eos_only = {T5Tokenizer::kEosId};
  EXPECT_EQ(tiny_tokenizer().encode("", WanGeometry::kTextLength), eos_only);
  EXPECT_EQ(tiny_tokenizer().encode(" \t\n\u3000&nbsp;", WanGeometry::kTextLength), eos_only);
}

TEST(T5Tokenizer, ShortPromptEndsWithSingleEosAndNoPadding) {
  const std::vector<int32_t> ids =
      tiny_tokenizer().encode("A cat walks.", WanGeometry::kTextLength);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids.back(), T5Tokenizer::kEosId);
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    EXPECT_GT(ids[i], T5Tokenizer::kEosId) << "position " << i << " holds a special id";
    EXPECT_LT(ids[i], kTinyTokenizerVocabSize);
  }
}

TEST(T5Tokenizer, MissingModelIsAnErrorNamingThePath) {
  TempDir dir;
  const std::string message = testing::error_of([&] { T5Tokenizer::load(dir.path()); });
  EXPECT_NE(message.find((dir.path() / "spiece.model").string()), std::string::npos) << message;
}

TEST(T5Tokenizer, CorruptModelIsAnErrorNamingThePath) {
  TempDir dir;
  std::ofstream(dir.path() / "spiece.model") << "this is not a protobuf";
  const std::string message = testing::error_of([&] { T5Tokenizer::load(dir.path()); });
  EXPECT_NE(message.find((dir.path() / "spiece.model").string()), std::string::npos) << message;
}

TEST(PromptCleaning, UnescapesExactlyTwice) {
  EXPECT_EQ(clean_prompt("Fish &amp;amp; Chips"), "Fish & Chips");
  EXPECT_EQ(clean_prompt("&amp;amp;amp;"), "&amp;");
  EXPECT_EQ(clean_prompt("&amp;lt;b&amp;gt;"), "<b>");
  EXPECT_EQ(html_unescape("&amp;amp;"), "&amp;");
}

TEST(PromptCleaning, NumericReferencesFollowHtml5) {
  EXPECT_EQ(html_unescape("caf&#233; caf&#xe9; caf&#XE9"), "caf\u00e9 caf\u00e9 caf\u00e9");
  EXPECT_EQ(html_unescape("&#128512;"), "\U0001F600");
  EXPECT_EQ(html_unescape("&#x80;&#x99;"), "\u20ac\u2122");  // Windows-1252 remapping
  EXPECT_EQ(html_unescape("&#0;&#xD800;&#x110000;&#99999999999999999999;"),
            "\uFFFD\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(html_unescape("a&#1;b&#x7f;c&#xFFFF;d"), "abcd");  // invalid code points vanish
  EXPECT_EQ(html_unescape("&#13;"), "\r");
  EXPECT_EQ(html_unescape("&#x; &#; &#a; &#0x41;"), "&#x; &#; &#a; \uFFFDx41;");
}

TEST(PromptCleaning, NamedReferencesUseTheFullHtml5TableAndLegacyPrefixes) {
  EXPECT_EQ(html_unescape("&lt;&gt;&quot;&apos;&nbsp;&copy;&eacute;&Eacute;"),
            "<>\"'\u00a0\u00a9\u00e9\u00c9");
  EXPECT_EQ(html_unescape("&hellip;&mdash;&rsquo;&euro;&hearts;"),
            "\u2026\u2014\u2019\u20ac\u2665");
  EXPECT_EQ(html_unescape("&notin; &notit; &ampx &amp"), "\u2209 \u00acit; &x &");
  EXPECT_EQ(html_unescape("&NotEqualTilde;"), "\u2242\u0338");
  EXPECT_EQ(html_unescape("&apos &unknown; & amp; &; a&&b"), "&apos &unknown; & amp; &; a&&b");
}

TEST(PromptCleaning, CollapsesPythonWhitespaceAndStrips) {
  EXPECT_EQ(clean_prompt("  A\t\tcat\n\nwalks \r\n"), "A cat walks");
  EXPECT_EQ(clean_prompt("a\u00a0b\u3000c\u2003d\u0085e\u2028f\u001fg\u000bh"), "a b c d e f g h");
  EXPECT_EQ(clean_prompt("a\u200bb"), "a\u200bb");  // zero-width space is not `\s` in Python
  EXPECT_EQ(clean_prompt("A&nbsp;&nbsp;cat &amp;nbsp; dog"), "A cat dog");
  EXPECT_EQ(clean_prompt(" \t\u3000 "), "");
  EXPECT_EQ(clean_prompt("caf\u00e9 \u6771\u4eac"), "caf\u00e9 \u6771\u4eac");
}

TEST(PromptCleaning, InvalidUtf8IsAnError) {
  EXPECT_THROW(clean_prompt("caf\xe9"), Error);
  EXPECT_THROW(clean_prompt("\xc0\xaf"), Error);      // overlong
  EXPECT_THROW(clean_prompt("\xed\xa0\x80"), Error);  // surrogate
}

}  // namespace
}  // namespace fastvideo
