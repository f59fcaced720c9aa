// Small text files whole. Reading one a user names (a run file, a prompt file, a JSON config):
// only a regular file is read, so a FIFO cannot block the run and /dev/zero cannot fill memory,
// and only up to a bound no such file comes near. Writing one: complete or not at all.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace fastvideo {

inline constexpr size_t kMaxTextFileBytes = size_t(64) << 20;

// The file's bytes. Errors name the file and `what` it is for ("the prompt file
// (request.inputs.prompt_path)"): missing, not a regular file, unreadable, or over max_bytes.
std::string read_text_file(const std::filesystem::path& path, const std::string& what,
                           size_t max_bytes = kMaxTextFileBytes);

// Writes `text` to PATH.tmp and renames it over `path`: a reader never sees half a file, and a
// failure (a folder at `path`, a full disk) removes PATH.tmp and is an Error naming the path.
void write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace fastvideo
