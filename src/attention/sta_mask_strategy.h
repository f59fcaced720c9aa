// STA's mask strategy in FastVideo's JSON format (the file FASTVIDEO_ATTENTION_CONFIG names, as in
// its assets/mask_strategy_wan.json): an object whose keys are "step_layer_head" (denoising step
// index, transformer block, head) and whose values are [t, h, w] windows in tiles. `fastvideo
// sta-search` writes one; SLIDING_TILE_ATTN reads it.
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <string>

#include "ops/sliding_tile_attention.h"

namespace fastvideo {

inline constexpr const char* kAttentionConfigEnv = "FASTVIDEO_ATTENTION_CONFIG";

class StaMaskStrategy {
 public:
  // Errors name the file and the key or value: keys not three non-negative integers joined by '_',
  // values not three positive integers, duplicate keys.
  static StaMaskStrategy from_file(const std::filesystem::path& path);
  static StaMaskStrategy from_json_text(const std::string& text, const std::string& source);

  // The window of (step, layer, head); an Error naming the key and the file when it is absent.
  const StaWindow& window(int step, int layer, int head) const;
  void set(int step, int layer, int head, const StaWindow& window);
  size_t size() const { return windows_.size(); }

  // FastVideo's layout (keys in step, layer, head order); written to a temporary file and renamed.
  void write(const std::filesystem::path& path) const;

 private:
  std::map<std::array<int, 3>, StaWindow> windows_;
  std::string source_ = "(built in memory)";
};

}  // namespace fastvideo
