// Retrains the tiny model's SentencePiece file (docs/tiny-model.md) from the built-in corpus:
//   build/train_tiny_tokenizer tools/random_checkpoint/tiny_spiece.model
// The engine embeds that committed file instead of training at run time, because training output
// differs between libsentencepiece versions and the tiny model must be the same bytes everywhere.
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <unordered_map>

#include "fastvideo/error.h"
#include "random_checkpoint/tiny_tokenizer.h"

namespace fastvideo {
namespace {

#include "tiny_corpus.inc"

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

}  // namespace
}  // namespace fastvideo

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_SPIECE_MODEL\n", argv[0]);
    return 2;
  }
  try {
    const std::string model = fastvideo::train_tiny_model();
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out.write(model.data(), std::streamsize(model.size()));
    if (!out) fastvideo::fail(argv[1], ": cannot write");
  } catch (const fastvideo::Error& e) {
    std::fprintf(stderr, "train_tiny_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
