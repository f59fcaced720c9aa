// SentencePiece trusts the normalizer's character map in a model file: a Darts double-array trie
// and the replacement strings its leaves point to. A damaged one makes Encode read past the map and
// crash (QA fuzzing: 4 bytes at the trie's root of spiece.model, exit 139 at the first prompt), so
// the map is walked once at load, every reachable node and leaf checked against its bounds.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fastvideo {

// Where the precompiled character map lies in a serialized ModelProto (normalizer_spec, field 3;
// its precompiled_charsmap, field 2); nothing when the model has none.
struct CharsMapSpan {
  size_t offset = 0, size = 0;
};
std::optional<CharsMapSpan> find_precompiled_charsmap(std::string_view model_proto);

// Empty when the model's character map (if any) can be walked within its bounds, else what is
// wrong with it.
std::string precompiled_charsmap_problem(std::string_view model_proto);

}  // namespace fastvideo
