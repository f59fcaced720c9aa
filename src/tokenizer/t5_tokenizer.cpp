#include "tokenizer/t5_tokenizer.h"

#include <sentencepiece_processor.h>

#include "fastvideo/error.h"
#include "io/file_kind.h"
#include "tokenizer/charsmap_check.h"
#include "tokenizer/prompt_cleaning.h"

namespace fastvideo {

T5Tokenizer T5Tokenizer::load(const std::filesystem::path& tokenizer_dir) {
  const std::filesystem::path model_path = tokenizer_dir / "spiece.model";
  const std::string why = why_not_a_file(model_path);
  FV_CHECK(why.empty(), model_path.string(), ": ", why,
           " (expected the SentencePiece model of the T5 tokenizer)");
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = processor->Load(model_path.string());
  FV_CHECK(status.ok(), model_path.string(), ": cannot load as a SentencePiece model (",
           status.ToString(), ")");
  const std::string damaged = precompiled_charsmap_problem(processor->serialized_model_proto());
  FV_CHECK(damaged.empty(), model_path.string(), ": the normalizer's character map is damaged (",
           damaged, "); SentencePiece would read past it");
  // wan21.md §3.3: the pipeline appends id 1 and pads with id 0; a model with another layout
  // would give the text encoder wrong ids silently.
  FV_CHECK(processor->PieceToId("</s>") == kEosId && processor->PieceToId("<pad>") == kPadId,
           model_path.string(), ": expected the T5 special ids <pad> = 0 and </s> = 1, found ",
           processor->PieceToId("<pad>"), " and ", processor->PieceToId("</s>"));
  return T5Tokenizer(std::move(processor));
}

T5Tokenizer::T5Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor)
    : processor_(std::move(processor)) {}
T5Tokenizer::T5Tokenizer(T5Tokenizer&&) noexcept = default;
T5Tokenizer& T5Tokenizer::operator=(T5Tokenizer&&) noexcept = default;
T5Tokenizer::~T5Tokenizer() = default;

std::vector<int32_t> T5Tokenizer::encode(std::string_view prompt, int max_length,
                                         size_t* untruncated) const {
  FV_CHECK(max_length >= 1, "T5Tokenizer::encode: max_length is ", max_length,
           ", expected at least 1 (room for </s>)");
  const std::string text = clean_prompt(prompt);
  std::vector<int> pieces;
  const auto status = processor_->Encode(text, &pieces);
  FV_CHECK(status.ok(), "T5Tokenizer::encode: SentencePiece failed on the prompt (",
           status.ToString(), ")");
  if (untruncated) *untruncated = pieces.size() + 1;
  if (pieces.size() > size_t(max_length - 1)) pieces.resize(max_length - 1);
  std::vector<int32_t> ids(pieces.begin(), pieces.end());
  ids.push_back(kEosId);
  return ids;
}

int T5Tokenizer::vocab_size() const { return processor_->GetPieceSize(); }

}  // namespace fastvideo
