// The tokenizer of the tiny test model (docs/tiny-model.md): a SentencePiece unigram model of 384
// pieces (tools/random_checkpoint/tiny_spiece.model, trained by tools/tiny_tokenizer and embedded
// in the binary), written in the HF T5 layout of a Wan checkpoint.
#pragma once

#include <filesystem>

namespace fastvideo {

inline constexpr int kTinyTokenizerVocabSize = 384;

// Writes `spiece.model`, `tokenizer_config.json` and `special_tokens_map.json` into
// tokenizer_dir (created if needed), each through a temporary name and a rename. T5 layout:
// <pad> 0, </s> 1, <unk> 2, no BOS. Every call, on every machine, writes the same bytes.
void write_tiny_tokenizer(const std::filesystem::path& tokenizer_dir);

}  // namespace fastvideo
