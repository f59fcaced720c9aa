// Whether a path is the regular file or the folder a checkpoint needs, following links. A path
// that cannot be resolved (a symbolic link loop, a folder without permission) gives its reason
// instead of a std::filesystem::filesystem_error escaping as an internal error.
#pragma once

#include <filesystem>
#include <string>

namespace fastvideo {

// Empty when `path` is a regular file, else why not: "does not exist", "is a directory, expected
// a file", "cannot be opened: Too many levels of symbolic links", ...
std::string why_not_a_file(const std::filesystem::path& path);

// Empty when `path` is a folder, else why not: "does not exist", "is a file, expected a folder",
// "cannot be opened: Too many levels of symbolic links", ...
std::string why_not_a_folder(const std::filesystem::path& path);

}  // namespace fastvideo
