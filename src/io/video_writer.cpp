#include "io/video_writer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <string>

#include "fastvideo/error.h"
#include "io/mp4_video.h"
#include "io/png_frames.h"
#include "io/y4m_video.h"

namespace fastvideo {
namespace fs = std::filesystem;
namespace {

// A hidden name next to the target, short whatever the target's length (a 250-byte name plus a
// suffix would exceed the filesystem's limit), unique per process and call.
std::string short_temporary_name(const char* kind) {
  static std::atomic<int> counter{0};
  return str_cat(".fastvideo-", ::getpid(), "-", counter++, ".", kind);
}

// Removes a temporary output (file or folder) unless it was committed.
class TemporaryOutput {
 public:
  explicit TemporaryOutput(fs::path path) : path_(std::move(path)) { remove(); }
  ~TemporaryOutput() {
    if (!committed_) remove();
  }
  TemporaryOutput(const TemporaryOutput&) = delete;
  TemporaryOutput& operator=(const TemporaryOutput&) = delete;

  const fs::path& path() const { return path_; }
  void committed() { committed_ = true; }

 private:
  void remove() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path path_;
  bool committed_ = false;
};

void check_video(const Video& video, const fs::path& target) {
  FV_CHECK(video.frames > 0 && video.height > 0 && video.width > 0, target.string(),
           ": nothing to save: the video has ", video.frames, " frames of ", video.width, "x",
           video.height);
  FV_CHECK(video.rgb.size() == size_t(video.frames) * video.height * video.width * 3,
           target.string(), ": the video holds ", video.rgb.size(), " bytes, expected ",
           video.frames, "x", video.height, "x", video.width, "x3");
  FV_CHECK(std::isfinite(video.fps) && video.fps > 0, target.string(),
           ": fps must be positive, got ", video.fps);
}

// What the format itself rules out, checked before anything is written.
void check_format(const Video& video, VideoFormat format, const fs::path& target) {
  if (format != VideoFormat::Mp4) return;
  FV_CHECK(mp4_supported(), target.string(),
           ": this build has no FFmpeg, so it cannot write MP4; rebuild with FFmpeg "
           "(libavcodec, libavformat, libswscale) installed, or save as .y4m or a PNG folder (a "
           "path without an extension)");
  FV_CHECK(video.width % 2 == 0 && video.height % 2 == 0, target.string(),
           ": MP4 (H.264 yuv420p) needs even width and height, got ", video.width, "x",
           video.height, "; save as .y4m or a PNG folder instead");
}

// Moves the finished temporary into place. A file replaces a file atomically (rename); a
// folder cannot be renamed over a folder, so the old one is moved aside first and restored if
// the second rename fails.
void commit(const fs::path& temp, const fs::path& target, bool replace_folder) {
  std::error_code ec;
  if (!replace_folder) {
    fs::rename(temp, target, ec);
    if (ec) fail(target.string(), ": cannot move the finished output into place: ", ec.message());
    return;
  }
  const fs::path aside = target.parent_path() / short_temporary_name("old");
  fs::remove_all(aside, ec);
  fs::rename(target, aside, ec);
  if (ec) fail(target.string(), ": cannot move the old folder aside: ", ec.message());
  fs::rename(temp, target, ec);
  if (ec) {
    std::error_code restore_ec;
    fs::rename(aside, target, restore_ec);
    fail(target.string(), ": cannot move the finished output into place: ", ec.message());
  }
  fs::remove_all(aside, ec);
}

}  // namespace

VideoFormat video_format_for(const fs::path& out) {
  if (!out.has_filename()) return VideoFormat::PngFolder;  // "frames/"
  std::string ext = out.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (ext.empty()) return VideoFormat::PngFolder;
  if (ext == ".mp4") return VideoFormat::Mp4;
  if (ext == ".y4m") return VideoFormat::Y4m;
  fail(out.string(), ": unsupported output extension '", out.extension().string(),
       "'; valid choices: .mp4 (H.264), .y4m (uncompressed), or a path without an extension "
       "(a folder of PNG frames)");
}

void write_video(const Video& video, const fs::path& out, const VideoMetadata& metadata,
                 bool overwrite, const StopFlag* stop) {
  const VideoFormat format = video_format_for(out);
  const fs::path target = out.has_filename() ? out : out.parent_path();
  FV_CHECK(target.has_filename() && target.filename() != "." && target.filename() != "..",
           out.string(), ": not a usable output path (name a file or a folder)");
  check_video(video, target);
  check_format(video, format, target);

  std::error_code ec;
  const fs::file_status status = fs::symlink_status(target, ec);
  const bool exists = fs::exists(status);
  if (exists) {
    FV_CHECK(overwrite, target.string(), " exists; pass --overwrite to replace it");
    if (format == VideoFormat::PngFolder)
      FV_CHECK(is_png_frame_folder(target), target.string(),
               " exists and is not a previous PNG-frame output (it holds other files or is not a "
               "folder); refusing to replace it");
    else
      FV_CHECK(!fs::is_directory(status), target.string(),
               " exists and is a folder; refusing to replace a folder with a file");
  }

  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  ec.clear();
  fs::create_directories(dir, ec);
  if (ec)
    fail(target.string(), ": cannot create the output folder ", dir.string(), ": ", ec.message());

  TemporaryOutput temp(dir / short_temporary_name("tmp"));
  try {
    switch (format) {
      case VideoFormat::Mp4:
        write_mp4(video, temp.path(), metadata);
        break;
      case VideoFormat::PngFolder:
        write_png_frames(video, temp.path(), metadata);
        break;
      case VideoFormat::Y4m:
        write_y4m(video, temp.path(), metadata);
        break;
    }
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    throw e.with_context(str_cat("saving ", target.string()));
  }
  check_stop(stop, str_cat("writing ", target.string()));  // the temporary goes with `temp`
  commit(temp.path(), target, exists && format == VideoFormat::PngFolder);
  temp.committed();
}

}  // namespace fastvideo
