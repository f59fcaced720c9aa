// Prompt cleaning that the Wan pipelines apply before tokenizing (wan21.md §3.3).
#pragma once

#include <string>
#include <string_view>

namespace fastvideo {

// Python's `html.unescape` on UTF-8 text, to the byte: numeric references (&#233; &#xE9;, with or
// without ';', including the HTML5 remapping of 0x80..0x9F and of invalid code points) and the
// full HTML5 named-reference table with its longest-prefix fallback for legacy names
// ("&ampx" -> "&x"). The full table, not a subset, because a missing name changes the result
// through that fallback ("&notin;" is "∉", not "¬in;"). Throws Error on invalid UTF-8.
std::string html_unescape(std::string_view text);

// The diffusers/FastVideo `prompt_clean`: html.unescape twice, then every run of Python `\s`
// whitespace (ASCII, U+001C..U+001F, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
// U+202F, U+205F, U+3000) becomes one ' ', and the ends are stripped. ftfy.fix_text, which
// upstream applies only when ftfy happens to be installed, is not applied. Throws Error on
// invalid UTF-8.
std::string clean_prompt(std::string_view prompt);

}  // namespace fastvideo
