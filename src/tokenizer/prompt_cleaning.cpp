#include "tokenizer/prompt_cleaning.h"

#include <algorithm>
#include <cstdint>

#include "fastvideo/error.h"
#include "core/utf8.h"

namespace fastvideo {
namespace {

struct HtmlEntity {
  std::string_view name;
  std::string_view value;
};
struct NumericRemap {
  uint32_t code;
  std::string_view value;
};
#include "tokenizer/html5_entities.inc"

constexpr char32_t kReplacementChar = 0xFFFD;

void validate_utf8(std::string_view s) {
  const std::string why = utf8_violation(s);
  if (!why.empty()) fail("prompt is not valid UTF-8: ", why);
}

const std::string_view* find_entity(std::string_view name) {
  const auto* it =
      std::lower_bound(std::begin(kHtml5Entities), std::end(kHtml5Entities), name,
                       [](const HtmlEntity& e, std::string_view n) { return e.name < n; });
  return it != std::end(kHtml5Entities) && it->name == name ? &it->value : nullptr;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }

// Python html._replace_charref for a numeric reference with value `num` (saturated above
// U+10FFFF, which maps to U+FFFD either way).
void append_numeric_reference(std::string& out, uint32_t num) {
  for (const NumericRemap& r : kInvalidCharrefs) {
    if (r.code == num) {
      out += r.value;
      return;
    }
  }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    append_utf8(out, kReplacementChar);
    return;
  }
  if (std::find(std::begin(kInvalidCodepoints), std::end(kInvalidCodepoints), num) !=
      std::end(kInvalidCodepoints))
    return;
  append_utf8(out, num);
}

// Characters that end a named reference: Python's charref pattern `[^\t\n\f <&#;]{1,32};?`.
bool ends_reference_name(char c) {
  return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
         c == ';';
}

}  // namespace

std::string html_unescape(std::string_view s) {
  validate_utf8(s);
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    const size_t j = i + 1;
    if (j < s.size() && s[j] == '#') {
      // `#[0-9]+;?` or `#[xX][0-9a-fA-F]+;?`; anything else after '#' is literal text.
      const bool hex =
          j + 2 < s.size() && (s[j + 1] == 'x' || s[j + 1] == 'X') && is_hex_digit(s[j + 2]);
      size_t k = hex ? j + 2 : j + 1;
      if (!hex && !(k < s.size() && is_digit(s[k]))) {
        out += s[i++];
        continue;
      }
      uint32_t num = 0;
      for (; k < s.size() && (hex ? is_hex_digit(s[k]) : is_digit(s[k])); ++k)
        num = std::min<uint32_t>(num * (hex ? 16 : 10) + (hex ? hex_value(s[k]) : s[k] - '0'),
                                 0x110000);
      if (k < s.size() && s[k] == ';') ++k;
      append_numeric_reference(out, num);
      i = k;
      continue;
    }
    // Named reference: up to 32 code points, then an optional ';'.
    size_t k = j;
    for (int count = 0; count < 32 && k < s.size() && !ends_reference_name(s[k]); ++count)
      next_code_point(s, k);
    if (k == j) {
      out += s[i++];
      continue;
    }
    if (k < s.size() && s[k] == ';') ++k;
    const std::string_view name = s.substr(j, k - j);
    if (const std::string_view* value = find_entity(name)) {
      out += *value;
    } else {
      // Longest listed prefix of at least 2 characters (names are ASCII, so bytes suffice).
      size_t len = name.size() - 1;
      const std::string_view* prefix_value = nullptr;
      for (; len >= 2 && !(prefix_value = find_entity(name.substr(0, len))); --len) {
      }
      if (prefix_value != nullptr) {
        out += *prefix_value;
        out += name.substr(len);
      } else {
        out += '&';
        out += name;
      }
    }
    i = k;
  }
  return out;
}

std::string clean_prompt(std::string_view prompt) {
  const std::string text = html_unescape(html_unescape(prompt));
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    const char32_t cp = next_code_point(text, i);
    if (is_python_space(cp)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out.append(text, start, i - start);
  }
  return out;
}

}  // namespace fastvideo
