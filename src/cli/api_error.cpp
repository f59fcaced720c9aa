#include "api_error.h"

#include <nlohmann/json.hpp>

namespace fastvideo::cli {

namespace {

// OpenAI's error types: client mistakes are invalid_request_error, a refused rate is
// rate_limit_error (429), the rest server_error.
const char* error_type(int status) {
  if (status == 429) return "rate_limit_error";
  if (status >= 400 && status < 500) return "invalid_request_error";
  return "server_error";
}

}  // namespace

std::string ApiError::json() const {
  nlohmann::ordered_json error = {
      {"message", what()}, {"type", error_type(status_)}, {"param", nullptr}, {"code", code_}};
  if (param_) error["param"] = *param_;
  // Invalid UTF-8 from the request (an echoed field) becomes U+FFFD instead of an exception.
  return nlohmann::ordered_json{{"error", error}}.dump(-1, ' ', false,
                                                       nlohmann::json::error_handler_t::replace);
}

}  // namespace fastvideo::cli
