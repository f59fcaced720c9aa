#include "io/json_parse.h"

#include <string>

namespace fastvideo {

long json_too_deep_at(std::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return long(i);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return -1;
}

nlohmann::json parse_json(std::string_view text,
                          const nlohmann::json::parser_callback_t& on_event) {
  if (const long at = json_too_deep_at(text); at >= 0) {
    throw nlohmann::json::parse_error::create(
        101, size_t(at) + 1,
        "nesting deeper than " + std::to_string(kMaxJsonDepth) +
            " levels of arrays and objects; nothing read here has more than a few",
        nullptr);
  }
  return nlohmann::json::parse(text, on_event);
}

}  // namespace fastvideo
