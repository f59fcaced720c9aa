#include "core/utf8.h"

#include <algorithm>
#include <cstdint>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// The code point at s[i] (advancing i), or why there is none.
char32_t decode(std::string_view s, size_t& i, std::string& why) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const size_t start = i;
  const unsigned char b0 = byte(i++);
  if (b0 < 0x80) return b0;
  int extra = 0;
  char32_t cp = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    extra = 1, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    extra = 2, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    extra = 3, cp = b0 & 0x07, min = 0x10000;
  } else {
    why = str_cat("byte 0x", std::hex, int(b0), std::dec, " at offset ", start);
    return 0;
  }
  for (int k = 0; k < extra; ++k, ++i) {
    if (i >= s.size() || (byte(i) & 0xC0) != 0x80) {
      why = str_cat("truncated sequence at offset ", start);
      return 0;
    }
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    why = str_cat("invalid code point U+", std::hex, uint32_t(cp), std::dec, " at offset ", start);
    return 0;
  }
  return cp;
}

}  // namespace

std::string utf8_violation(std::string_view s) {
  std::string why;
  for (size_t i = 0; i < s.size() && why.empty();) decode(s, i, why);
  return why;
}

size_t utf8_sequence_length(std::string_view s, size_t i) {
  std::string why;
  size_t end = i;
  decode(s, end, why);
  return why.empty() ? end - i : 0;
}

char32_t next_code_point(std::string_view s, size_t& i) {
  std::string why;
  const char32_t cp = decode(s, i, why);
  if (!why.empty()) fail("not valid UTF-8: ", why);
  return cp;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

std::string_view strip_python_space(std::string_view s) {
  size_t begin = s.size(), end = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    if (!is_python_space(next_code_point(s, i))) {
      begin = std::min(begin, start);
      end = i;
    }
  }
  return begin < end ? s.substr(begin, end - begin) : std::string_view();
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace fastvideo
