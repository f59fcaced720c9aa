// Where a video goes (io/output_path.h) and how it is written (io/video_writer.h): FastVideo's
// names from the prompt, names reserved so parallel runs never share one, limits checked before
// any work, existing PNG-frame outputs replaced in place, and a stop while writing leaving nothing.
#include "io/output_path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "core/stop_flag.h"
#include "fastvideo/made_folders.h"
#include "fastvideo/run_config.h"
#include "io/mp4_video.h"
#include "io/png_frames.h"
#include "io/video_writer.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

namespace fs = std::filesystem;

using testing::error_of;

Video small_video() {
  Video v;
  v.frames = 2;
  v.height = 8;
  v.width = 8;
  v.rgb.assign(size_t(2 * 8 * 8 * 3), 100);
  return v;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(OutputPath, NamesComeFromThePromptAsFastVideoMakesThem) {
  EXPECT_EQ(file_name_for_prompt("A red fox runs through fresh snow at dawn."),
            "A red fox runs through fresh snow at dawn");
  EXPECT_EQ(file_name_for_prompt("  what? a/b: \"c\" <d>|e*  "), "what ab c de");
  EXPECT_EQ(file_name_for_prompt("tabs\tand\n\nnew  lines"), "tabs and new lines");
  EXPECT_EQ(file_name_for_prompt("..."), "output");
  // Whitespace as Python's str.isspace knows it, Unicode included (U+3000, U+00A0, \x1c).
  EXPECT_EQ(file_name_for_prompt("fox\u3000in\u00a0the\x1csnow"), "fox in the snow");
  EXPECT_EQ(file_name_for_prompt(std::string(150, 'x')), std::string(100, 'x'));
  // 100 characters, not bytes: a multi-byte prompt is cut at a character boundary.
  std::string snow;
  for (int i = 0; i < 120; ++i) snow += "\xE2\x9D\x84";  // U+2744
  EXPECT_EQ(file_name_for_prompt(snow), snow.substr(0, 300).substr(0, 243));
}

// Bug 8: two runs naming into one folder reserve different files at once.
TEST(OutputPath, AutomaticNamesAreReservedSoTwoRunsNeverShareOne) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  const fs::path dir = testing::temp_dir("reserve");
  OutputTarget a(dir / "", "a fox", false);
  OutputTarget b(dir, "a fox", false);
  EXPECT_EQ(a.path(), dir / "a fox.mp4");
  EXPECT_EQ(b.path(), dir / "a fox_1.mp4");
  EXPECT_TRUE(fs::exists(a.path()) && fs::exists(b.path())) << "reserved at once";
  EXPECT_TRUE(a.may_replace());
  {
    OutputTarget dropped(dir, "a fox", false);
    EXPECT_EQ(dropped.path(), dir / "a fox_2.mp4");
  }
  EXPECT_FALSE(fs::exists(dir / "a fox_2.mp4")) << "an unused reservation is given back";
  write_video(small_video(), a.path(), {}, a.may_replace());
  a.committed();
}

// Runs that start together never take one name: a name just made is locked by its maker before
// any other run can take it for a killed run's placeholder (CI once saw two CLI runs started at
// once write one file). Threads race here as runs do: flock locks belong to each open().
TEST(OutputPath, RunsReservingAtTheSameInstantGetDistinctNames) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  constexpr int kRuns = 8;
  for (int round = 0; round < 200; ++round) {
    const fs::path dir = testing::temp_dir("reserve-race-" + std::to_string(round));
    std::atomic<int> waiting{kRuns};
    std::vector<std::unique_ptr<OutputTarget>> targets(kRuns);
    std::vector<std::thread> runs;
    for (int i = 0; i < kRuns; ++i) {
      runs.emplace_back([&, i] {
        for (--waiting; waiting > 0;) {
        }
        targets[size_t(i)] = std::make_unique<OutputTarget>(dir, "a fox", false);
      });
    }
    for (auto& t : runs) t.join();
    std::set<fs::path> paths;
    for (const auto& t : targets) paths.insert(t->path());
    ASSERT_EQ(paths.size(), size_t(kRuns)) << "round " << round << ": two runs share a name";
    targets.clear();
    EXPECT_TRUE(names_in(dir).empty()) << "unused reservations are given back";
  }
}

// A run killed by SIGKILL cannot remove its placeholder. The next run naming into the folder takes
// that empty, unlocked file instead of leaving it and moving on to _1; a live run's placeholder
// (locked) and a real video (not empty) are never taken.
TEST(OutputPath, APlaceholderAKilledRunLeftIsTakenByTheNextRun) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  const fs::path dir = testing::temp_dir("abandoned");
  std::ofstream(dir / "a fox.mp4").close();  // what a killed run leaves: empty, no lock
  {
    OutputTarget next(dir, "a fox", false);
    EXPECT_EQ(next.path(), dir / "a fox.mp4");
    EXPECT_TRUE(next.may_replace());
    OutputTarget beside(dir, "a fox", false);  // the first one is live now: its lock is held
    EXPECT_EQ(beside.path(), dir / "a fox_1.mp4");
    write_video(small_video(), next.path(), {}, next.may_replace());
    next.committed();
  }
  EXPECT_GT(fs::file_size(dir / "a fox.mp4"), 0u);
  EXPECT_FALSE(fs::exists(dir / "a fox_1.mp4")) << "the unused reservation is given back";
  OutputTarget after(dir, "a fox", false);
  EXPECT_EQ(after.path(), dir / "a fox_1.mp4") << "a finished video is not a placeholder";
}

// The temporary folder a run killed while writing left (a second signal, kill -9) goes with the
// next write into that folder: unlocked and older than 10 s. A live run's (locked), a fresh one and
// anything not named as ours stay.
TEST(OutputPath, TemporariesAKilledRunLeftGoWithTheNextWrite) {
  const fs::path dir = testing::temp_dir("abandoned-temporaries");
  const auto make = [&](const std::string& name, bool old) {
    fs::create_directories(dir / name / "output");
    std::ofstream(dir / name / "output" / "frame_00000.png") << "x";
    if (old)
      fs::last_write_time(dir / name, fs::file_time_type::clock::now() - std::chrono::minutes(1));
  };
  make(".fastvideo-Ab3xYz", true);   // abandoned
  make(".fastvideo-Live01", true);   // a live run's: locked below
  make(".fastvideo-Fresh1", false);  // just made: its run may not have locked it yet
  make(".fastvideo-serve", true);    // not a write's temporary
  make("mine", true);
  const int live = ::open((dir / ".fastvideo-Live01").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(live, 0);
  ASSERT_EQ(::flock(live, LOCK_EX), 0);
  write_video(small_video(), dir / "v.y4m", {}, false);
  ::close(live);
  EXPECT_FALSE(fs::exists(dir / ".fastvideo-Ab3xYz"));
  for (const char* kept : {".fastvideo-Live01", ".fastvideo-Fresh1", ".fastvideo-serve", "mine"})
    EXPECT_TRUE(fs::exists(dir / kept / "output" / "frame_00000.png")) << kept;
  EXPECT_TRUE(fs::exists(dir / "v.y4m"));
}

// Bug 11: a legal long name works; an illegal one is refused before any work.
TEST(OutputPath, NameLengthIsCheckedUpFrontAndTemporariesStayShort) {
  const fs::path dir = testing::temp_dir("long-names");
  const fs::path legal = dir / (std::string(242, 'v') + ".y4m");  // 246 bytes
  OutputTarget target(legal, "a fox", false);
  write_video(small_video(), target.path(), {}, target.may_replace());
  EXPECT_TRUE(fs::exists(legal));
  const fs::path too_long = dir / (std::string(296, 'v') + ".y4m");  // 300 bytes
  const std::string e = error_of([&] { OutputTarget t(too_long, "a fox", false); });
  EXPECT_NE(e.find("300 bytes"), std::string::npos) << e;
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{legal.filename().string(),
                                                     legal.filename().string() + ".json"}));
}

// A file in a folder that does not exist yet (output_path: outputs/ with output_video_name): the
// folder is made, as FastVideo makes it, and goes again when no video comes.
TEST(OutputPath, AFileInAMissingFolderGetsItAndTheFolderGoesWithoutAVideo) {
  const fs::path dir = testing::temp_dir("missing-folder") / "outputs";
  {
    OutputTarget target(dir / "fox.y4m", "a fox", false);
    EXPECT_TRUE(fs::is_directory(dir));
  }
  EXPECT_FALSE(fs::exists(dir)) << "the folder made for a video that never came stayed";
  // Every level made goes, not only the innermost (QA audit: nd/sub/x.mp4 left nd/), for a file
  // and for a folder to name the video in; a folder that was there stays.
  for (const fs::path& out : {dir / "sub" / "deeper" / "fox.y4m", dir / "sub" / "named" / ""}) {
    if (!out.has_filename() && !mp4_supported()) continue;  // automatic names are MP4
    { OutputTarget target(out, "a fox", false); }
    EXPECT_FALSE(fs::exists(dir)) << out;
  }
  EXPECT_TRUE(fs::is_directory(dir.parent_path()));
  OutputTarget target(dir / "fox.y4m", "a fox", false);
  write_video(small_video(), target.path(), {}, target.may_replace());
  target.committed();
  EXPECT_TRUE(fs::exists(dir / "fox.y4m"));
}

// Bug 6: an existing PNG-frame output is the target itself, replaced with overwrite.
// The folders a failed run made go again however the path was written: with "." parts or a
// trailing separator (they stayed: rmdir cannot take "m/."), and through ".." without ever
// removing a folder that was there before.
TEST(OutputPath, MadeFoldersGoAgainHoweverThePathIsWritten) {
  const fs::path root = testing::temp_dir("made-folders");
  for (const std::string& written : {"m1/m2/.", "k1/k2/./", "a/b/c/", "a//b/c"}) {
    {
      MadeFolders made(root / written, "v.mp4");
      EXPECT_TRUE(fs::is_directory(root / written)) << written;
      EXPECT_EQ(made.made().size(),
                std::set<fs::path>(made.made().begin(), made.made().end()).size())
          << written << ": a folder listed twice";
    }
    EXPECT_TRUE(fs::is_empty(root)) << written << " left folders behind";
  }
  fs::create_directory(root / "old");
  {
    MadeFolders made(root / "x/../old/new", "v.mp4");
    EXPECT_TRUE(fs::is_directory(root / "old/new"));
  }
  EXPECT_TRUE(fs::is_directory(root / "old")) << "a folder that was there stays";
  EXPECT_FALSE(fs::exists(root / "x"));
  // A ".." over folders that exist is an ordinary path: its new folder is made and goes again.
  for (const std::string& written : {"old/../new", "old/../new/deeper"}) {
    {
      MadeFolders made(root / written, "v.mp4");
      EXPECT_TRUE(fs::is_directory(root / written)) << written;
    }
    EXPECT_FALSE(fs::exists(root / "new")) << written;
  }
}

TEST(OutputPath, AnExistingPngFrameFolderIsReplacedNotWrittenInto) {
  const fs::path frames = testing::temp_dir("png-target") / "frames";
  write_video(small_video(), frames, {}, false);
  EXPECT_TRUE(is_png_frame_folder(frames));
  EXPECT_NE(
      error_of([&] { OutputTarget t(frames, "a fox", false); }).find("set overwrite (--overwrite)"),
      std::string::npos);
  OutputTarget target(frames, "a fox", true);
  EXPECT_EQ(target.path(), frames);
  write_video(small_video(), target.path(), {}, target.may_replace());
  EXPECT_TRUE(is_png_frame_folder(frames)) << "no MP4 was named inside it";
  // The same with a trailing slash (as shells complete a folder's name).
  OutputTarget slashed(frames / "", "a fox", true);
  EXPECT_EQ(slashed.path(), frames / "");
  write_video(small_video(), slashed.path(), {}, slashed.may_replace());
  EXPECT_TRUE(is_png_frame_folder(frames)) << "no MP4 was named inside it";
}

// A folder that happens to end in a video extension is never written into, nor replaced: with
// --overwrite it is refused before any work, as write_video would refuse it after.
TEST(OutputPath, AFolderNamedLikeAVideoIsNotAPlaceToNameVideosIn) {
  const fs::path folder = testing::temp_dir("video-named-folder") / "clip.y4m";
  fs::create_directories(folder);
  EXPECT_NE(error_of([&] { OutputTarget t(folder, "a fox", false); }).find("exists"),
            std::string::npos);
  const std::string e = error_of([&] { OutputTarget t(folder, "a fox", true); });
  EXPECT_NE(e.find(folder.string() + " exists and is a folder"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { write_video(small_video(), folder, {}, true); }).find("is a folder"),
            std::string::npos);
}

// The same for a PNG-frame output whose path holds something else: a regular file.
TEST(OutputPath, APngFolderOutputOverAFileIsRefusedUpFrontEvenWithOverwrite) {
  const fs::path file = testing::temp_dir("png-over-file") / "frames";
  std::ofstream(file) << "not frames";
  const std::string e = error_of([&] { OutputTarget t(file, "a fox", true); });
  EXPECT_NE(e.find(file.string() + " exists and is not a previous PNG-frame output"),
            std::string::npos)
      << e;
  std::ifstream in(file);
  std::string kept;
  std::getline(in, kept);
  EXPECT_EQ(kept, "not frames");
}

// A .y4m's metadata file already there (anyone's, even without its video) is replaced only with
// overwrite, and a folder in its place never: both refused up front, not after the generation.
TEST(OutputPath, AY4msMetadataFileIsReplacedOnlyWithOverwriteAndNeverAFolder) {
  const fs::path dir = testing::temp_dir("y4m-metadata-target");
  std::ofstream(dir / "a.y4m.json") << "user data";
  std::string e = error_of([&] { OutputTarget t(dir / "a.y4m", "a fox", false); });
  EXPECT_NE(e.find("a.y4m.json (the .y4m's metadata file) exists; set overwrite"),
            std::string::npos)
      << e;
  EXPECT_NO_THROW(OutputTarget(dir / "a.y4m", "a fox", true));
  fs::create_directory(dir / "b.y4m.json");
  e = error_of([&] { OutputTarget t(dir / "b.y4m", "a fox", true); });
  EXPECT_NE(e.find("b.y4m.json (the .y4m's metadata file) exists and is a folder"),
            std::string::npos)
      << e;
  // write_video checks the same before writing (the Python and C++ APIs' path too).
  e = error_of([&] { write_video(small_video(), dir / "a.y4m", {}, false); });
  EXPECT_NE(e.find("a.y4m.json (the .y4m's metadata file) exists; set overwrite"),
            std::string::npos)
      << e;
  EXPECT_EQ(testing::file_bytes(dir / "a.y4m.json"), "user data");
  EXPECT_FALSE(fs::exists(dir / "a.y4m"));
  // With the video there too, the refusal names the video.
  write_video(small_video(), dir / "c.y4m", {}, false);
  e = error_of([&] { OutputTarget t(dir / "c.y4m", "a fox", false); });
  EXPECT_NE(e.find((dir / "c.y4m").string() + " exists; set overwrite"), std::string::npos) << e;
}

// A list of prompts (or a prompt file) names its videos in a folder; an earlier run's PNG frames
// there are an output each video would replace, so they are refused before any work.
TEST(OutputPath, APromptListIntoAPngFrameOutputIsRefused) {
  const fs::path dir = testing::temp_dir("prompt-list-frames");
  write_video(small_video(), dir / "fr", {}, false);
  for (const std::string& out : {(dir / "fr").string(), (dir / "fr").string() + "/"}) {
    RunConfig config;
    apply_config_text(
        str_cat("request:\n  prompt: [a fox, a cat]\n  output:\n    output_path: ", out, "\n"),
        "test", config);
    const std::string e = error_of([&] { (void)config.output(); });
    EXPECT_NE(e.find("holds an earlier run's PNG frames, which every video of a list of prompts "
                     "would replace"),
              std::string::npos)
        << out << ": " << e;
  }
  RunConfig fresh;
  apply_config_text(str_cat("request:\n  prompt: [a fox, a cat]\n  output:\n    output_path: ",
                            (dir / "new").string(), "\n"),
                    "test", fresh);
  EXPECT_EQ(fresh.output(), dir / "new" / "");
}

// Bug 4 (the write stage's part): a stop requested while writing removes the temporary.
TEST(OutputPath, AStopWhileWritingLeavesNothingBehind) {
  const fs::path dir = testing::temp_dir("stop-writing");
  StopFlag stop;
  stop.request();
  for (const char* name : {"v.y4m", "frames"}) {
    EXPECT_THROW(write_video(small_video(), dir / name, {}, false, &stop), Cancelled);
  }
  EXPECT_TRUE(names_in(dir).empty());
}

}  // namespace
}  // namespace fastvideo
