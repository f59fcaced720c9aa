#include "io/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "fastvideo/error.h"
#include "io/file_kind.h"

namespace fastvideo {

namespace {

std::string size_text(size_t bytes) {
  return bytes >= (size_t(1) << 20) ? str_cat(bytes >> 20, " MiB") : str_cat(bytes, " bytes");
}

// errno's text, or a general one where the stream left errno unset.
std::string system_reason() { return errno != 0 ? std::strerror(errno) : "an I/O error"; }

}  // namespace

std::string read_text_file(const std::filesystem::path& path, const std::string& what,
                           size_t max_bytes) {
  FV_CHECK(!path.empty(), what, ": the path is empty; name a file");
  if (const std::string why = why_not_a_file(path); !why.empty()) {
    fail(path.string(), ": ", why, " (", what, ")");
  }
  // Opened without blocking and checked again on the descriptor: a path swapped for a FIFO after
  // the check above must not block the open or the reads.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  FV_CHECK(fd >= 0, path.string(), ": cannot open ", what, " (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path.string(), ": is not a regular file (", what, ")");
  }
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : 0;
      ::close(fd);
      FV_CHECK(n == 0, path.string(), ": cannot read ", what, " (", std::strerror(error), ")");
      return text;
    }
    // At most one buffer past the bound is ever held.
    if (text.size() + size_t(n) > max_bytes) {
      ::close(fd);
      fail(path.string(), ": more than ", size_text(max_bytes), "; ", what, " is at most that");
    }
    text.append(buffer, size_t(n));
  }
}

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail(tmp.string(), ": cannot create (", system_reason(), ")");
    out << text;
    out.close();
    if (!out) {
      const std::string why = system_reason();  // before remove() can change errno
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      fail(tmp.string(), ": write failed (", why, ")");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    fail(path.string(), ": cannot rename from ", tmp.string(), ": ", ec.message());
  }
}

}  // namespace fastvideo
