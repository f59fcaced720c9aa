#include "json_output.h"

#include <filesystem>

#include "fastvideo/error.h"
#include "fastvideo/made_folders.h"
#include "io/text_file.h"

namespace fastvideo::bench {

namespace fs = std::filesystem;

std::string json_path_problem(const std::string& path) {
  if (path.empty()) return "the path is empty; name a file";
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(path, ec);
  if (fs::is_symlink(status))
    return path + ": is a symbolic link; --json writes a new file in its place, not through it, " +
           "so name the file it points to (" + fs::read_symlink(path, ec).string() +
           ") or a new one";
  if (fs::is_directory(status)) return path + ": is a folder; --json expects a file name";
  if (fs::exists(status) && !fs::is_regular_file(status))
    return path + ": is not a regular file; --json writes one in its place, so name a new file";
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : ".";
  if (!fs::is_directory(dir, ec)) return path + ": folder " + dir.string() + " does not exist";
  const std::string why = why_no_new_files(dir);
  if (!why.empty()) return path + ": folder " + dir.string() + " takes no new files (" + why + ")";
  return {};
}

void add_json_option(CLI::App& cmd, std::string& path) {
  cmd.add_option("--json", path, "write results as JSON (an existing file is replaced)")
      ->check([](const std::string& p) { return json_path_problem(p); });
}

void write_json_results(const std::string& path, const nlohmann::json& results) {
  write_text_file(path, results.dump(2) + "\n");
}

}  // namespace fastvideo::bench
