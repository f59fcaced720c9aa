#include "fastvideo/made_folders.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fastvideo/error.h"

namespace fastvideo {

namespace fs = std::filesystem;

MadeFolders::MadeFolders(const fs::path& dir, const fs::path& what_for) {
  // Without "." parts and a trailing separator: rmdir cannot remove "m/." (API audit: "m1/m2/."
  // and "a/b/c/" left their folders behind).
  fs::path clean;
  for (const fs::path& part : dir)
    if (!part.empty() && part != ".") clean /= part;
  std::error_code ec;
  std::vector<fs::path> missing;  // outermost first
  for (fs::path p = clean; !p.empty() && !fs::exists(fs::symlink_status(p, ec));
       p = p.parent_path()) {
    missing.insert(missing.begin(), p);
    if (p == p.parent_path()) break;
  }
  if (missing.empty()) return;
  // A ".." after a missing folder steps back out of it ("x/../old" once x is made): what follows
  // may be a folder the user had, so the record stops there and no such folder is ever removed.
  for (const fs::path& p : missing) {
    if (p.filename() == "..") break;
    made_.push_back(p);
  }
  fs::create_directories(clean, ec);
  if (ec) {
    remove_empty();  // create_directories may have made the outer ones
    fail(what_for.string(), ": cannot create the output folder ", dir.string(), ": ", ec.message());
  }
}

MadeFolders::~MadeFolders() { remove_empty(); }

MadeFolders::MadeFolders(MadeFolders&& other) noexcept : made_(std::move(other.made_)) {
  other.made_.clear();
}

MadeFolders& MadeFolders::operator=(MadeFolders&& other) noexcept {
  if (this != &other) {
    remove_empty();
    made_ = std::move(other.made_);
    other.made_.clear();
  }
  return *this;
}

void MadeFolders::remove_empty() {
  std::error_code ec;
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
    if (!fs::is_empty(*it, ec) || !fs::remove(*it, ec)) break;
  }
  made_.clear();
}

std::string why_no_new_files(const fs::path& dir) {
  std::string probe = (dir / ".fastvideo-probe-XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) return std::strerror(errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

}  // namespace fastvideo
