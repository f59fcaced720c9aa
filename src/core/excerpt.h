// What an error message quotes of a value read from a file: the value itself, or its start and
// its size when it is long, so a hostile megabyte-long string cannot flood the terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/utf8.h"
#include "fastvideo/error.h"

namespace fastvideo {

inline constexpr size_t kExcerptChars = 80;

// `text` with control bytes and bytes that are not UTF-8 written as \n, \t or \xNN: a NUL cut
// the message short, and an escape sequence would reach the terminal.
inline std::string printable(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7F) {
      out += text[i++];
      continue;
    }
    // A UTF-8 sequence as it is, but the C1 controls (U+0080..U+009F, C2 80..C2 9F), which some
    // terminals obey as escapes.
    const size_t n = byte >= 0x80 ? utf8_sequence_length(text, i) : 0;
    if (n > 0 && !(byte == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0)) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    if (byte == '\n' || byte == '\t') {
      out += byte == '\n' ? "\\n" : "\\t";
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
    ++i;
  }
  return out;
}

// `text` when at most kExcerptChars long, else its first kExcerptChars characters (never a
// partial UTF-8 sequence) followed by "... (N bytes)"; control bytes as printable() writes them.
inline std::string excerpt(std::string_view text) {
  if (text.size() <= kExcerptChars) return printable(text);
  size_t cut = kExcerptChars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return str_cat(printable(text.substr(0, cut)), "... (", text.size(), " bytes)");
}

}  // namespace fastvideo
