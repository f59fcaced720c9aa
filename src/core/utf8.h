// Strict UTF-8, as Python's decoder reads it: no overlong forms, no surrogates, nothing above
// U+10FFFF. Prompts are checked with it before anything else reads them.
#pragma once

#include <string>
#include <string_view>

namespace fastvideo {

// Why `s` is not valid UTF-8 ("byte 0xff at offset 3"); empty when it is.
std::string utf8_violation(std::string_view s);

// The length of the valid UTF-8 sequence at s[i], 0 when there is none there.
size_t utf8_sequence_length(std::string_view s, size_t i);

// Decodes the code point at s[i] and advances i past it. Throws Error ("not valid UTF-8: ...")
// where utf8_violation would report.
char32_t next_code_point(std::string_view s, size_t& i);

void append_utf8(std::string& out, char32_t cp);

// Python's str.isspace (FastVideo's strip() and \s): ASCII whitespace, \x1c-\x1f and Unicode's.
bool is_python_space(char32_t c);

// `s` without the Python whitespace at both ends (str.strip()); `s` must be valid UTF-8.
std::string_view strip_python_space(std::string_view s);

}  // namespace fastvideo
