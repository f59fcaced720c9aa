#include "random_checkpoint/tiny_tokenizer.h"

#include <cstddef>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fastvideo/error.h"

// Generated from tools/random_checkpoint/tiny_spiece.model (CMakeLists.txt, cmake/EmbedFile.cmake).
extern const unsigned char kTinySpieceModel[];
extern const std::size_t kTinySpieceModel_size;

namespace fastvideo {
namespace {

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

  write_file_atomically(
      tokenizer_dir / "spiece.model",
      std::string(reinterpret_cast<const char*>(kTinySpieceModel), kTinySpieceModel_size));
  write_file_atomically(tokenizer_dir / "tokenizer_config.json", config.dump(2) + "\n");
  write_file_atomically(tokenizer_dir / "special_tokens_map.json", special_tokens.dump(2) + "\n");
}

}  // namespace fastvideo
