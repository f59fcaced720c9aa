// JSON text parsed with the nesting bound of fastvideo/json_depth.h.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "fastvideo/json_depth.h"

namespace fastvideo {

// nlohmann::json::parse(text, on_event), refusing nesting deeper than kMaxJsonDepth with a
// parse_error (id 101) at the byte where it starts, as a syntax error is reported.
nlohmann::json parse_json(std::string_view text,
                          const nlohmann::json::parser_callback_t& on_event = nullptr);

}  // namespace fastvideo
