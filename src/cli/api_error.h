// An error answer of `fastvideo serve` in OpenAI's shape:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "size", "code": "..."}}
// with its HTTP status. The message names the field or value and what was expected.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace fastvideo::cli {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message,
           std::optional<std::string> param = std::nullopt)
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        param_(std::move(param)) {}

  int status() const { return status_; }
  // The body: OpenAI's error object.
  std::string json() const;

 private:
  int status_;
  std::string code_;
  std::optional<std::string> param_;
};

// A 400 naming `param`.
inline ApiError invalid_field(const std::string& param, const std::string& message,
                              const std::string& code = "invalid_value") {
  return ApiError(400, code, message, param);
}

}  // namespace fastvideo::cli
