#include "tokenizer/tiny_tokenizer.h"

#include <sentencepiece_trainer.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "fastvideo/error.h"

namespace fastvideo {
namespace {

#include "tokenizer/tiny_corpus.inc"

// Feeds the built-in corpus to the trainer in order.
class CorpusIterator : public sentencepiece::SentenceIterator {
 public:
  bool done() const override { return index_ >= std::size(kTinyTokenizerCorpus); }
  void Next() override {
    if (++index_ < std::size(kTinyTokenizerCorpus)) current_ = kTinyTokenizerCorpus[index_];
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  size_t index_ = 0;
  std::string current_ = kTinyTokenizerCorpus[0];
};

std::string train_tiny_model() {
  // Determinism: one thread (the EM statistics are summed per thread), every sentence used in
  // corpus order (input_sentence_size 0 disables the random reservoir sampling, no shuffling).
  const std::unordered_map<std::string, std::string> options = {
      {"model_type", "unigram"},
      {"vocab_size", std::to_string(kTinyTokenizerVocabSize)},
      {"character_coverage", "1.0"},
      {"pad_id", "0"},
      {"eos_id", "1"},
      {"unk_id", "2"},
      {"bos_id", "-1"},
      {"pad_piece", "<pad>"},
      {"eos_piece", "</s>"},
      {"unk_piece", "<unk>"},
      {"num_threads", "1"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"minloglevel", "2"},
  };
  CorpusIterator corpus;
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(options, &corpus, &model);
  FV_CHECK(status.ok(), "training the tiny tokenizer failed: ", status.ToString());
  return model;
}

void write_file_atomically(const std::filesystem::path& path, const std::string& bytes) {
  const std::filesystem::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    FV_CHECK(out.good(), temp.string(), ": cannot open for writing");
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.close();
    FV_CHECK(out.good(), temp.string(), ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  FV_CHECK(!ec, "cannot rename ", temp.string(), " to ", path.string(), ": ", ec.message());
}

}  // namespace

void write_tiny_tokenizer(const std::filesystem::path& tokenizer_dir) {
  std::error_code ec;
  std::filesystem::create_directories(tokenizer_dir, ec);
  FV_CHECK(!ec, tokenizer_dir.string(), ": cannot create directory: ", ec.message());

  // HF T5 layout; extra_ids 0 because the tiny vocabulary has no <extra_id_N> sentinels, so the
  // HF vocabulary size equals the SentencePiece size that the tiny text encoder is built for.
  const nlohmann::ordered_json special_tokens = {
      {"eos_token", "</s>"}, {"pad_token", "<pad>"}, {"unk_token", "<unk>"}};
  nlohmann::ordered_json config = special_tokens;
  config["additional_special_tokens"] = nlohmann::json::array();
  config["extra_ids"] = 0;
  config["legacy"] = true;
  config["model_max_length"] = 512;
  config["sp_model_kwargs"] = nlohmann::json::object();
  config["tokenizer_class"] = "T5Tokenizer";

  write_file_atomically(tokenizer_dir / "spiece.model", train_tiny_model());
  write_file_atomically(tokenizer_dir / "tokenizer_config.json", config.dump(2) + "\n");
  write_file_atomically(tokenizer_dir / "special_tokens_map.json", special_tokens.dump(2) + "\n");
}

}  // namespace fastvideo
