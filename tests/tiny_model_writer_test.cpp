// Where make-tiny-model writes (write_random_checkpoint): the folder a path names, trailing slash
// and ".." included; --overwrite replaces a checkpoint and nothing else (QA audit: "m/ --overwrite"
// deleted the user's folder m and then failed, and any folder's files were replaced).
#include <gtest/gtest.h>

#include <fstream>

#include "random_checkpoint/random_checkpoint.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

namespace fs = std::filesystem;

std::string written(const fs::path& file) { return testing::file_bytes(file); }

TEST(TinyModelWriter, ATrailingSlashOrDotDotNamesTheFolderItself) {
  const fs::path root = testing::temp_dir("writer-names");
  write_tiny_model(root / "m" / "", 0);
  EXPECT_TRUE(fs::exists(root / "m" / "model_index.json"));
  write_tiny_model(root / "sub" / ".." / "n", 0);
  EXPECT_TRUE(fs::exists(root / "n" / "model_index.json"));
  EXPECT_FALSE(fs::exists(root / "sub")) << "a folder named only on the way was made";
  // Over a checkpoint with --overwrite, through the slash: replaced, nothing else left beside it.
  write_tiny_model(root / "m" / "", 1, /*overwrite=*/true);
  EXPECT_TRUE(fs::exists(root / "m" / "model_index.json"));
  for (const auto& e : fs::directory_iterator(root)) {
    EXPECT_TRUE(e.path().filename() == "m" || e.path().filename() == "n") << e.path();
  }
  for (const char* none : {"", ".", ".."}) {
    EXPECT_TRUE(
        testing::contains(testing::error_of([&] { write_tiny_model(none, 0, /*overwrite=*/true); }),
                          std::string(*none ? "names no folder of its own" : "no folder given")))
        << "'" << none << "'";
  }
}

TEST(TinyModelWriter, OverwriteReplacesACheckpointOrAnEmptyFolderAndNothingElse) {
  const fs::path root = testing::temp_dir("writer-overwrite");
  fs::create_directories(root / "mine");
  std::ofstream(root / "mine" / "precious.txt") << "precious";
  for (const fs::path& asked : {root / "mine", root / "mine" / "", root / "x" / ".." / "mine"}) {
    EXPECT_TRUE(testing::contains(
        testing::error_of([&] { write_tiny_model(asked, 0, /*overwrite=*/true); }),
        "is not a checkpoint (no model_index.json)"))
        << asked;
    EXPECT_EQ(written(root / "mine" / "precious.txt"), "precious") << asked;
  }
  EXPECT_TRUE(testing::contains(testing::error_of([&] { write_tiny_model(root / "mine", 0); }),
                                "exists; pass --overwrite"));
  std::ofstream(root / "file") << "x";
  EXPECT_TRUE(testing::contains(
      testing::error_of([&] { write_tiny_model(root / "file", 0, /*overwrite=*/true); }),
      "is not a folder"));
  fs::create_directories(root / "empty");
  write_tiny_model(root / "empty", 0, /*overwrite=*/true);
  EXPECT_TRUE(fs::exists(root / "empty" / "model_index.json"));
  // Below a file: the library's words, with the folder asked for and the path at fault.
  const std::string below = testing::error_of([&] { write_tiny_model(root / "file" / "sub", 0); });
  EXPECT_TRUE(
      testing::contains(below, (root / "file" / "sub").string() +
                                   ": cannot write the checkpoint there: Not a directory (" +
                                   (root / "file").string() + ")"))
      << below;
}

}  // namespace
}  // namespace fastvideo
