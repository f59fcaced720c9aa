// What an error message quotes of a value read from a file: the value itself, or its start and
// its size when it is long, so a hostile megabyte-long string cannot flood the terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fastvideo/error.h"

namespace fastvideo {

inline constexpr size_t kExcerptChars = 80;

// `text` when at most kExcerptChars long, else its first kExcerptChars characters (never a
// partial UTF-8 sequence) followed by "... (N bytes)".
inline std::string excerpt(std::string_view text) {
  if (text.size() <= kExcerptChars) return std::string(text);
  size_t cut = kExcerptChars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return str_cat(text.substr(0, cut), "... (", text.size(), " bytes)");
}

}  // namespace fastvideo
