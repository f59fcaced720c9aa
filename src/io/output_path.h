// Where a generation's video goes, decided and checked before any work (fastvideo.md §1.1):
//  - a file: .mp4 or .y4m;
//  - a PNG frame folder: a path without an extension, or an existing folder of PNG frames (which
//    --overwrite replaces);
//  - a folder to name the video in: any other existing folder, or a path ending in '/'. The name is
//    FastVideo's: the first 100 characters of the prompt without \ / : * ? " < > |, whitespace
//    runs as one space, ".mp4", then _1, _2 ... on collision. The name is reserved at once (an
//    empty placeholder created exclusively and flock'ed while the run lasts), so two runs naming
//    into one folder never take the same file; a folder made for it goes again if the video never
//    comes. The placeholder a killed run could not remove is taken by the next run that names it.
#pragma once

#include <filesystem>
#include <string>

#include "fastvideo/made_folders.h"

namespace fastvideo {

// FastVideo's file name for a prompt, without the extension; "output" when nothing is left. Cut
// at a character boundary so that the name and a "_NNN.mp4" suffix fit a file name (255 bytes).
std::string file_name_for_prompt(const std::string& prompt);

// Whether `requested` names a folder the video is named in (rather than a file or a PNG-frame
// folder): an existing folder that is not a previous PNG-frame output, or a path ending in '/'.
bool names_a_folder(const std::filesystem::path& requested);

class OutputTarget {
 public:
  // Resolves `requested` for `prompt`: checks the extension, the name's length against the
  // filesystem's limit, that the folder exists and is writable, and that an existing output may
  // be replaced (overwrite, and only a file by a file, a PNG-frame folder by one); reserves an
  // auto-generated name. Errors name the path.
  OutputTarget(const std::filesystem::path& requested, const std::string& prompt, bool overwrite);
  // Removes the placeholder of a reserved name the video never replaced.
  ~OutputTarget();
  OutputTarget(const OutputTarget&) = delete;
  OutputTarget& operator=(const OutputTarget&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Whether an existing file or folder at path() may be replaced: --overwrite, or this run's own
  // placeholder.
  bool may_replace() const { return overwrite_ || reserved_; }
  // The video is in place: the placeholder is gone for good.
  void committed() {
    reserved_ = false;
    created_folders_.keep();
  }

 private:
  std::filesystem::path path_;
  bool overwrite_ = false;
  bool reserved_ = false;        // path_ is this run's placeholder
  int placeholder_fd_ = -1;      // open and flock'ed while path_ is this run's placeholder
  MadeFolders created_folders_;  // made for the video; they go again if it never comes
};

}  // namespace fastvideo
