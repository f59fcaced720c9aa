// A bound on how deep JSON text may nest. Parsers take any depth, but printing or walking a value
// recurses: a request body of 100,000 nested arrays crashed the server (its error message printed
// the value). Nothing this engine reads nests more than a few levels. Public so the CLI's request
// bodies and flags are held to the bound the engine's files are.
#pragma once

#include <string_view>

namespace fastvideo {

inline constexpr int kMaxJsonDepth = 64;

// The byte at which `text` opens its (kMaxJsonDepth + 1)-th nested array or object, or -1 when it
// never does. Brackets inside strings do not count.
long json_too_deep_at(std::string_view text);

}  // namespace fastvideo
