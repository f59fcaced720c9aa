// Folders made for an output that may never come: made with any missing parent, and removed again
// (innermost first, each only while empty) unless the output was kept. Generations use it for the
// folder of their video, `fastvideo serve` for --output-dir when it fails to start (public so the
// CLI, which sees only this API, shares it).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fastvideo {

class MadeFolders {
 public:
  MadeFolders() = default;
  // Makes `dir` and every missing folder above it; an error names `what_for` (the output asked
  // for) and the folder.
  MadeFolders(const std::filesystem::path& dir, const std::filesystem::path& what_for);
  ~MadeFolders();
  MadeFolders(MadeFolders&& other) noexcept;
  MadeFolders& operator=(MadeFolders&& other) noexcept;
  MadeFolders(const MadeFolders&) = delete;
  MadeFolders& operator=(const MadeFolders&) = delete;

  // The output is in place: the folders stay.
  void keep() { made_.clear(); }
  const std::vector<std::filesystem::path>& made() const { return made_; }  // outermost first

 private:
  void remove_empty();
  std::vector<std::filesystem::path> made_;
};

// Empty when a new file can be made in the folder `dir`, else why not. A file is made and removed
// to find out: access(W_OK) passes for root where no file can be made (/proc).
std::string why_no_new_files(const std::filesystem::path& dir);

}  // namespace fastvideo
