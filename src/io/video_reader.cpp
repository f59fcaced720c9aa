#include "io/video_reader.h"

#include "fastvideo/error.h"
#include "io/file_kind.h"
#include "io/mp4_video.h"
#include "io/png_frames.h"
#include "io/video_writer.h"
#include "io/y4m_video.h"

namespace fastvideo {
namespace fs = std::filesystem;
namespace {

// A path names a frame folder when it is one on disk, whatever its name; otherwise the
// extension decides, as for writing.
VideoFormat format_of(const fs::path& path) {
  std::error_code ec;
  // exists() sets ec for what cannot be looked at (a symlink loop, a folder without search
  // permission); a plain absence leaves it clear.
  FV_CHECK(fs::exists(path, ec), path.string(), ": ", ec ? ec.message() : "no such file or folder");
  if (fs::is_directory(path, ec)) return VideoFormat::PngFolder;
  // A FIFO or a device would block or never end.
  if (const std::string why = why_not_a_file(path); !why.empty()) fail(path.string(), ": ", why);
  FV_CHECK(names_a_video_file(path), path.string(),
           path.extension().empty()
               ? std::string(": is a file without an extension")
               : str_cat(": cannot read '", path.extension().string(), "' files"),
           "; expected .mp4, .y4m or a folder of PNG frames");
  return video_format_for(path);
}

}  // namespace

Video read_video(const fs::path& path) {
  switch (format_of(path)) {
    case VideoFormat::Mp4:
      return read_mp4(path);
    case VideoFormat::PngFolder:
      return read_png_frames(path);
    case VideoFormat::Y4m:
      return read_y4m(path);
  }
  fail(path.string(), ": unknown video format");
}

VideoMetadata read_video_metadata(const fs::path& path) {
  switch (format_of(path)) {
    case VideoFormat::Mp4: {
      auto tags = read_mp4_tags(path);
      // write_mp4 stores every entry as JSON in `comment`; other files only have their tags.
      if (auto it = tags.find("comment"); it != tags.end() && it->second.starts_with("{")) {
        try {
          return VideoMetadata::from_json(it->second, path.string());
        } catch (const Error&) {
          // A comment that merely looks like JSON: fall back to the raw tags.
        }
      }
      return VideoMetadata{std::map<std::string, std::string>(tags.begin(), tags.end())};
    }
    case VideoFormat::PngFolder:
      return read_png_frames_metadata(path);
    case VideoFormat::Y4m:
      return read_y4m_metadata(path);
  }
  fail(path.string(), ": unknown video format");
}

}  // namespace fastvideo
