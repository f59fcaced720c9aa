// What an error message quotes of a value read from a file: the value itself, or its start and
// its size when it is long, so a hostile megabyte-long string cannot flood the terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fastvideo/error.h"

namespace fastvideo {

inline constexpr size_t kExcerptChars = 80;

// The length of the well-formed UTF-8 sequence at text[i] that is no C1 control (U+0080..U+009F,
// which some terminals obey as escapes), 0 when there is none.
inline size_t utf8_printable_length(std::string_view text, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = at(i);
  const size_t n = lead < 0xC2 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  }
  // Overlong or surrogate forms, code points past U+10FFFF, and the C1 controls.
  if ((lead == 0xE0 && at(i + 1) < 0xA0) || (lead == 0xED && at(i + 1) >= 0xA0) ||
      (lead == 0xF0 && at(i + 1) < 0x90) || (lead == 0xF4 && at(i + 1) >= 0x90) ||
      (lead == 0xC2 && at(i + 1) < 0xA0)) {
    return 0;
  }
  return n;
}

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
    if (const size_t n = byte >= 0x80 ? utf8_printable_length(text, i) : 0; n > 0) {
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
