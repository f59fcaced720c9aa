#include "tiny_model_fixture.h"

#include <unistd.h>

#include "random_checkpoint/random_checkpoint.h"

namespace fastvideo::testing {

namespace {

struct TempRoot {
  std::filesystem::path path;
  TempRoot() {
    path =
        std::filesystem::temp_directory_path() / ("fastvideo-test-" + std::to_string(::getpid()));
    // A folder of this name is a killed earlier process's (one with this PID): its tiny model
    // would make writing ours fail as "exists".
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TempRoot& root() {
  static TempRoot r;
  return r;
}

}  // namespace

const std::filesystem::path& tiny_model_dir() {
  static const std::filesystem::path dir = [] {
    auto d = root().path / "tiny-model";
    write_tiny_model(d, 0);
    return d;
  }();
  return dir;
}

const std::filesystem::path& tiny_fastwan_dir() {
  static const std::filesystem::path dir = [] {
    auto d = root().path / "tiny-fastwan";
    write_random_checkpoint(d, {.size = "fastwan", .seed = 0});
    return d;
  }();
  return dir;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto d = root().path / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace fastvideo::testing
