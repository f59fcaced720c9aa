#include "io/output_path.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/utf8.h"
#include "fastvideo/error.h"
#include "fastvideo/log.h"
#include "io/mp4_video.h"
#include "io/png_frames.h"
#include "io/video_writer.h"
#include "io/y4m_video.h"

namespace fastvideo {

namespace fs = std::filesystem;

namespace {

// The longest file name the folder's filesystem takes (NAME_MAX; 255 almost everywhere).
size_t name_max(const fs::path& dir) {
  const long n = ::pathconf(dir.empty() ? "." : dir.c_str(), _PC_NAME_MAX);
  return n > 0 ? size_t(n) : 255;
}

void check_folder(const fs::path& out, const fs::path& dir) {
  std::error_code ec;
  FV_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec), out.string(), ": ", dir.string(),
           " is a file, not a folder to write into");
  FV_CHECK(fs::is_directory(dir, ec), out.string(), ": folder ", dir.string(), " does not exist");
  // QA fuzzing: --output /proc/x.mp4 passed access(W_OK) as root and failed only after the whole
  // generation.
  const std::string why = why_no_new_files(dir);
  FV_CHECK(why.empty(), out.string(), ": folder ", dir.string(), " takes no new files (", why, ")");
}

// Before any work, not after the generation: a build without FFmpeg cannot write MP4.
void check_mp4_supported(const fs::path& out) {
  FV_CHECK(mp4_supported(), out.string(),
           ": this build has no FFmpeg, so it cannot write MP4; save as .y4m or a PNG folder (a "
           "path without an extension) instead");
}

// A placeholder's run holds an exclusive flock on it until the video replaces it or the run ends,
// so an empty file at `path` that no one holds is one a killed run (SIGKILL, a crash) could not
// remove: returns it opened and locked, for this run to take; -1 for anything else.
int take_abandoned_placeholder(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat held {
  }, named{};
  // Checked again after locking: the name may have been given to a finished video meanwhile.
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &held) == 0 && S_ISREG(held.st_mode) &&
      held.st_size == 0 && ::stat(path.c_str(), &named) == 0 && named.st_ino == held.st_ino &&
      named.st_dev == held.st_dev) {
    return fd;
  }
  ::close(fd);
  return -1;
}

}  // namespace

// Never a path with a video extension (that names a file) nor an existing PNG-frame output, with
// or without the slash (that is replaced in place).
bool names_a_folder(const fs::path& requested) {
  std::error_code ec;
  const fs::path target = requested.has_filename() ? requested : requested.parent_path();
  // With frames in it, not merely not empty: another run's file that comes and goes (the folder
  // check's probe) read as an empty frame folder, so a run took the folder for its output.
  if (is_png_frame_folder(target, /*need_frames=*/true)) return false;
  if (!requested.has_filename()) return true;
  if (names_a_video_file(requested)) return false;
  return fs::is_directory(requested, ec);
}

std::string file_name_for_prompt(const std::string& prompt) {
  // FastVideo: the first 100 characters, without \ / : * ? " < > |, stripped of whitespace then
  // dots, whitespace runs as one space. Control characters go too (legal in Linux names but
  // useless in one). The prompt is valid UTF-8 (resolve_request checked it).
  std::string name;
  bool space = false;
  size_t i = 0;
  for (int chars = 0; i < prompt.size() && chars < 100; ++chars) {
    const size_t start = i;
    const char32_t c = next_code_point(prompt, i);
    if (is_python_space(c)) {
      space = true;
      continue;
    }
    if ((c < 0x80 && std::strchr("\\/:*?\"<>|", int(c)) != nullptr) || c < 0x20 || c == 0x7F) {
      continue;
    }
    if (space && !name.empty()) name += ' ';
    space = false;
    name.append(prompt, start, i - start);
  }
  const size_t first = name.find_first_not_of('.');
  const size_t last = name.find_last_not_of('.');
  name = first == std::string::npos ? "" : name.substr(first, last - first + 1);
  // Room for "_NNNN.mp4" within 255 bytes, cut at a character boundary.
  constexpr size_t kMaxBytes = 255 - 10;
  if (name.size() > kMaxBytes) {
    size_t cut = kMaxBytes;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
    name.resize(cut);
  }
  return name.empty() ? "output" : name;
}

OutputTarget::OutputTarget(const fs::path& requested, const std::string& prompt, bool overwrite)
    : overwrite_(overwrite) {
  if (names_a_folder(requested)) {
    check_mp4_supported(requested);
    const fs::path dir = requested.has_filename() ? requested : requested.parent_path();
    created_folders_ = MadeFolders(dir, requested);
    check_folder(requested, dir);
    const std::string base = file_name_for_prompt(prompt);
    for (int i = 0;; ++i) {
      path_ = dir / (i == 0 ? base + ".mp4" : str_cat(base, "_", i, ".mp4"));
      placeholder_fd_ = ::open(path_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
      if (placeholder_fd_ >= 0) {
        // Until locked, the new file looks like a killed run's placeholder: a run starting at the
        // same instant may take it first, and then it is that run's name, not ours.
        if (::flock(placeholder_fd_, LOCK_EX | LOCK_NB) == 0) {
          reserved_ = true;
          return;
        }
        const int error = errno;
        ::close(placeholder_fd_);
        placeholder_fd_ = -1;
        std::error_code ec;
        if (error != EWOULDBLOCK) fs::remove(path_, ec);
        FV_CHECK(error == EWOULDBLOCK, path_.string(),
                 ": cannot lock the output name's placeholder: ", std::strerror(error));
        continue;
      }
      FV_CHECK(errno == EEXIST, path_.string(),
               ": cannot reserve the output name: ", std::strerror(errno));
      placeholder_fd_ = take_abandoned_placeholder(path_);
      if (placeholder_fd_ >= 0) {
        log::info(path_.string(), ": an empty placeholder that a killed run left; taking it");
        reserved_ = true;
        return;
      }
    }
  }
  path_ = requested;
  if (video_format_for(path_) == VideoFormat::Mp4) check_mp4_supported(path_);
  const fs::path dir = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  const std::string name = path_.filename().string();
  FV_CHECK(name.size() <= name_max(dir), path_.string(), ": the file name is ", name.size(),
           " bytes; the filesystem allows at most ", name_max(dir));
  if (video_format_for(path_) == VideoFormat::Y4m) {
    const std::string metadata = y4m_metadata_path(path_).filename().string();
    FV_CHECK(metadata.size() <= name_max(dir), path_.string(), ": its metadata file ", metadata,
             " would be ", metadata.size(), " bytes; the filesystem allows at most ", name_max(dir),
             " (use a name 5 bytes shorter)");
  }
  // A missing folder is made, as FastVideo makes output_path's (output_path: outputs/ with
  // output_video_name: fox.mp4 failed in a fresh folder), and goes again if the video never comes.
  created_folders_ = MadeFolders(dir, path_);
  check_folder(path_, dir);
  // What --overwrite cannot replace is refused now, not after the whole generation (write_video
  // checks the same when it writes).
  check_output_replaceable(path_.has_filename() ? path_ : path_.parent_path(),
                           video_format_for(path_), overwrite, path_);
}

OutputTarget::~OutputTarget() {
  std::error_code ec;
  if (reserved_) fs::remove(path_, ec);
  // After the removal: until then the lock tells other runs the placeholder is taken.
  if (placeholder_fd_ >= 0) ::close(placeholder_fd_);
  // The folders this run made for a video that never came go with created_folders_.
}

}  // namespace fastvideo
