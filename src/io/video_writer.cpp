#include "io/video_writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fastvideo/error.h"
#include "fastvideo/log.h"
#include "io/mp4_video.h"
#include "io/png_frames.h"
#include "io/y4m_video.h"

namespace fastvideo {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kTemporaryPrefix = ".fastvideo-";

// Removes the temporary folders in `dir` that a run killed while writing left (a second signal, a
// kill -9, a crash): ours by name (prefix and six characters), no run's lock on them, and older
// than the moment between a folder's creation and its lock. QA audit: they stayed for good, hidden,
// with a video's worth of frames in them.
void remove_abandoned_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != kTemporaryPrefix.size() + 6 || !name.starts_with(kTemporaryPrefix)) continue;
    std::error_code entry_ec;
    if (!fs::is_directory(it->symlink_status(entry_ec))) continue;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(it->path(), entry_ec);
    if (entry_ec || age < std::chrono::seconds(10)) continue;
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      fs::remove_all(it->path(), entry_ec);
      if (!entry_ec) log::info("removed ", it->path().string(), ", left by an interrupted run");
    }
    ::close(fd);
  }
}

// A private hidden folder next to the target, created exclusively (mkdtemp: no other run, in
// this process or another container sharing the folder, can hold the same name) and locked while
// it lives (flock: remove_abandoned_temporaries leaves it alone), removed with everything in it.
// Its name is short whatever the target's length.
class TemporaryFolder {
 public:
  explicit TemporaryFolder(const fs::path& dir) {
    remove_abandoned_temporaries(dir);
    std::string name = (dir / (std::string(kTemporaryPrefix) + "XXXXXX")).string();
    FV_CHECK(::mkdtemp(name.data()) != nullptr, dir.string(),
             ": cannot create a temporary folder for the output: ", std::strerror(errno));
    path_ = name;
    // Unlocked, a later write into the folder would take it for one a killed run left.
    lock_ = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock_ < 0 || ::flock(lock_, LOCK_EX) != 0) {
      const int error = errno;
      std::error_code ec;
      fs::remove_all(path_, ec);
      if (lock_ >= 0) ::close(lock_);
      fail(dir.string(),
           ": cannot lock the temporary folder for the output: ", std::strerror(error));
    }
  }
  ~TemporaryFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (lock_ >= 0) ::close(lock_);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  int lock_ = -1;
};

// rename(2) that fails instead of replacing an existing `to` (renameat2 RENAME_NOREPLACE): an
// output path that appeared while the video was being made is never silently replaced.
void rename_no_replace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  if (errno == EEXIST) {
    fail(to.string(),
         " appeared while the video was being made; it was not replaced (set "
         "overwrite (--overwrite) to replace it)");
  }
  fail(to.string(), ": cannot move the finished output into place: ", std::strerror(errno));
}

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

// Moves the finished output into place: without `replace`, only where nothing is; a file
// replaces a file atomically (rename); a folder cannot be renamed over a folder, so the old one is
// moved into `temp` first (and goes with it) and restored if the second rename fails.
void commit(const fs::path& finished, const fs::path& target, bool replace, bool folder,
            const TemporaryFolder& temp) {
  std::error_code ec;
  if (!replace) {
    rename_no_replace(finished, target);
    return;
  }
  if (!folder || !fs::exists(fs::symlink_status(target, ec))) {
    fs::rename(finished, target, ec);
    if (ec) fail(target.string(), ": cannot move the finished output into place: ", ec.message());
    return;
  }
  const fs::path aside = temp.path() / "replaced";
  fs::rename(target, aside, ec);
  if (ec) fail(target.string(), ": cannot move the old folder aside: ", ec.message());
  fs::rename(finished, target, ec);
  if (ec) {
    std::error_code restore_ec;
    fs::rename(aside, target, restore_ec);
    fail(target.string(), ": cannot move the finished output into place: ", ec.message());
  }
}

}  // namespace

namespace {

std::string lowercase_extension(const fs::path& out) {
  std::string ext = out.has_filename() ? out.extension().string() : std::string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

bool names_a_video_file(const fs::path& out) {
  const std::string ext = lowercase_extension(out);
  return ext == ".mp4" || ext == ".y4m";
}

VideoFormat video_format_for(const fs::path& out) {
  const std::string ext = lowercase_extension(out);
  if (ext.empty()) return VideoFormat::PngFolder;
  if (ext == ".mp4") return VideoFormat::Mp4;
  if (ext == ".y4m") return VideoFormat::Y4m;
  fail(out.string(), ": unsupported output extension '", out.extension().string(),
       "'; valid choices: .mp4 (H.264), .y4m (uncompressed), or a path without an extension "
       "(a folder of PNG frames)");
}

namespace {

// A .y4m's metadata file (y4m_metadata_path) already there: replaced only with `overwrite`, and
// never a folder. It may be anyone's file, even without its video.
void check_y4m_metadata_target(const fs::path& video_target, bool overwrite) {
  const fs::path metadata = y4m_metadata_path(video_target);
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(metadata, ec);
  if (!fs::exists(status)) return;
  FV_CHECK(!fs::is_directory(status), metadata.string(),
           " (the .y4m's metadata file) exists and is a folder; refusing to replace it");
  FV_CHECK(overwrite, metadata.string(),
           " (the .y4m's metadata file) exists; set overwrite (--overwrite) to replace it");
}

}  // namespace

void check_output_replaceable(const fs::path& target, VideoFormat format, bool overwrite,
                              const fs::path& named) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(target, ec);
  if (fs::exists(status)) {
    // What overwrite cannot replace is said first: "set overwrite" led to this refusal next.
    if (format == VideoFormat::PngFolder) {
      FV_CHECK(is_png_frame_folder(target), target.string(),
               " exists and is not a previous PNG-frame output (it holds other files or is not a "
               "folder); refusing to replace it");
    } else {
      FV_CHECK(!fs::is_directory(status), target.string(),
               " exists and is a folder; refusing to replace a folder with a file");
    }
    FV_CHECK(overwrite, named.string(), " exists; set overwrite (--overwrite) to replace it");
  }
  // After the video's own: a second run into the same .y4m names the video, not its metadata.
  if (format == VideoFormat::Y4m) check_y4m_metadata_target(target, overwrite);
}

void write_video(const Video& video, const fs::path& out, const VideoMetadata& metadata,
                 bool overwrite, const StopFlag* stop) {
  const VideoFormat format = video_format_for(out);
  const fs::path target = out.has_filename() ? out : out.parent_path();
  FV_CHECK(target.has_filename() && target.filename() != "." && target.filename() != "..",
           out.string(), ": not a usable output path (name a file or a folder)");
  check_video(video, target);
  check_format(video, format, target);

  check_output_replaceable(target, format, overwrite, target);

  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    fail(target.string(), ": cannot create the output folder ", dir.string(), ": ", ec.message());

  const TemporaryFolder temp(dir);
  const fs::path finished = temp.path() / "output";
  try {
    switch (format) {
      case VideoFormat::Mp4:
        write_mp4(video, finished, metadata);
        break;
      case VideoFormat::PngFolder:
        write_png_frames(video, finished, metadata);
        break;
      case VideoFormat::Y4m:
        write_y4m(video, finished, metadata);
        break;
    }
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    e.rethrow_with_context(str_cat("saving ", target.string()));
  }
  check_stop(stop, str_cat("writing ", target.string()));  // the output goes with `temp`
  if (format != VideoFormat::Y4m) {
    commit(finished, target, overwrite, format == VideoFormat::PngFolder, temp);
    return;
  }
  // Y4M's metadata file goes first, and again if the video cannot follow it: no video is ever in
  // place without its metadata, nor metadata without its video. One already there is replaced
  // only with `overwrite`, even without its video: it may be anyone's file.
  const fs::path metadata_target = y4m_metadata_path(target);
  commit(y4m_metadata_path(finished), metadata_target, overwrite, false, temp);
  try {
    commit(finished, target, overwrite, false, temp);
  } catch (...) {
    fs::remove(metadata_target, ec);
    throw;
  }
}

}  // namespace fastvideo
