#include "io/file_kind.h"

#include "fastvideo/error.h"

namespace fastvideo {

namespace fs = std::filesystem;

namespace {

// Empty when `path` resolves to an entry of type `wanted`; else why not, with `other` for an
// entry of the other kind.
std::string why_not(const fs::path& path, fs::file_type wanted, const char* other) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) return "does not exist";
  if (ec) return str_cat("cannot be opened: ", ec.message());
  if (status.type() == wanted) return "";
  if (fs::is_directory(status) || fs::is_regular_file(status)) return other;
  return wanted == fs::file_type::regular ? "is not a regular file" : "is not a folder";
}

}  // namespace

std::string why_not_a_file(const fs::path& path) {
  return why_not(path, fs::file_type::regular, "is a directory, expected a file");
}

std::string why_not_a_folder(const fs::path& path) {
  return why_not(path, fs::file_type::directory, "is a file, expected a folder");
}

}  // namespace fastvideo
