// The UMT5 tokenizer of Wan2.1 (wan21.md §3.3): SentencePiece unigram on `spiece.model`, prompt
// cleaned as the pipeline does, EOS appended, no BOS.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace fastvideo {

class T5Tokenizer {
 public:
  static constexpr int32_t kPadId = 0;
  static constexpr int32_t kEosId = 1;

  // Loads `<tokenizer_dir>/spiece.model`; throws Error naming the file when it is missing, is not
  // a SentencePiece model, or does not have the T5 layout (`</s>` = 1, `<pad>` = 0).
  static T5Tokenizer load(const std::filesystem::path& tokenizer_dir);

  T5Tokenizer(T5Tokenizer&&) noexcept;
  T5Tokenizer& operator=(T5Tokenizer&&) noexcept;
  ~T5Tokenizer();

  // clean_prompt, SentencePiece ids, then EOS; at most max_length ids with EOS always last, as
  // HF truncation=True gives (ids[:max_length-1] + [1]). The empty prompt is [1]. No padding:
  // the text encoder zero-pads its output rows instead (wan21.md §3.3). `untruncated`, when given,
  // gets the id count before the cut (EOS included).
  std::vector<int32_t> encode(std::string_view prompt, int max_length,
                              size_t* untruncated = nullptr) const;

  int vocab_size() const;

 private:
  explicit T5Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor);

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace fastvideo
