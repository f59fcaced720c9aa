// A benchmark's results written as JSON (--json FILE): the path checked as the command line is
// read, before any timing, and the file written whole or not at all.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace fastvideo::bench {

// Registers --json on `cmd`, its value checked at once (json_path_problem).
void add_json_option(CLI::App& cmd, std::string& path);

// Empty when `path` can take the results, else why not: an empty path, a folder, a symbolic link
// or anything else but a regular file there, or a folder that is missing or takes no new files.
std::string json_path_problem(const std::string& path);

// Writes the results to PATH.tmp and renames it over `path` (an existing file is replaced); an
// error names the path and the system's reason, and leaves nothing behind.
void write_json_results(const std::string& path, const nlohmann::json& results);

}  // namespace fastvideo::bench
