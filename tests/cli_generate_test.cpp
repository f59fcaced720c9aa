// `fastvideo generate` as a hostile user meets it: every input that used to slip through or fail
// late (issue 8's bug list) now either works or stops before any work with a message naming the
// flag, key or path, leaving nothing behind; SIGINT and SIGTERM stop it cleanly; FastVideo's own
// run files with a prompt file work; FastWan and its VSA settings through the CLI.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli_runner.h"
#include "fastvideo/attention_backends.h"
#include "fastvideo/error.h"
#include "io/mp4_video.h"
#include "io/png_frames.h"
#include "io/video_reader.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

namespace fs = std::filesystem;
using testing::CliRun;
using testing::expect_clean_failure;
using testing::generate_args;
using testing::run;

const std::string kSmall = " --num-inference-steps 2";

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

using testing::contains;

// Bug 5: --negative-prompt "" means no negative prompt, as YAML "" does.
TEST(CliGenerate, AnEmptyNegativePromptFlagIsHonoured) {
  const fs::path out = testing::temp_dir("empty-negative") / "v.y4m";
  CliRun r = run(generate_args(testing::tiny_model_dir(), out) + kSmall + " --negative-prompt ''");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_video_metadata(out).entries.at("negative_prompt"), "");
}

// A prompt past max_sequence_length is cut as the HF tokenizer cuts it, and now says so; the model
// is recorded by its folder's name also when given as "dir/transformer/.."; --output - is refused
// (it made a PNG folder named "-").
TEST(CliGenerate, ALongPromptIsSaidToBeCutAndTheModelIsNamedByItsFolder) {
  const fs::path dir = testing::temp_dir("long-prompt");
  const fs::path out = dir / "v.y4m";
  std::string prompt;
  for (int i = 0; i < 30; ++i) prompt += "fox ";
  CliRun r = run("generate --model " + (testing::tiny_model_dir() / "transformer" / "..").string() +
                 " --prompt '" + prompt + "' --output " + out.string() + kSmall +
                 " --request.sampling.max_sequence_length 8");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "max_sequence_length 8 keeps its first 7 and the end token"))
      << r.output;
  const auto meta = read_video_metadata(out).entries;
  EXPECT_EQ(meta.at("model"), testing::tiny_model_dir().filename().string());
  EXPECT_EQ(meta.at("max_sequence_length"), "8");
  const CliRun dash = run(generate_args(testing::tiny_model_dir(), "-") + kSmall);
  EXPECT_EQ(dash.status, 1) << dash.output;
  EXPECT_TRUE(contains(dash.output, "--output -: writing the video to standard output"))
      << dash.output;
}

// Bug 6: --output FRAMES --overwrite on a PNG-frame output replaces it.
TEST(CliGenerate, OverwritingAPngFrameOutputReplacesTheFrames) {
  const fs::path frames = testing::temp_dir("png-overwrite") / "frames";
  ASSERT_EQ(run(generate_args(testing::tiny_model_dir(), frames) + kSmall).status, 0);
  CliRun r =
      run(generate_args(testing::tiny_model_dir(), frames) + kSmall + " --seed 9 --overwrite");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(is_png_frame_folder(frames)) << "something was written into the folder";
  EXPECT_EQ(read_video_metadata(frames).entries.at("seed"), "9");
}

// Bug 8: two runs naming into one folder at the same time write two videos.
TEST(CliGenerate, ParallelRunsIntoOneFolderNeverShareAName) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  const fs::path dir = testing::temp_dir("parallel") / "out";
  const std::string one = testing::cli() + " " +
                          generate_args(testing::tiny_model_dir(), dir.string() + "/") + kSmall +
                          " > /dev/null 2>&1";
  // Each run's own status: a bare `wait` reports 0 whatever they returned.
  ASSERT_EQ(std::system(("(" + one + " & a=$!; " + one + " & b=$!; wait $a && wait $b)").c_str()),
            0);
  EXPECT_EQ(names_in(dir),
            (std::vector<std::string>{"A red fox runs through fresh snow at dawn.mp4",
                                      "A red fox runs through fresh snow at dawn_1.mp4"}));
  for (const auto& name : names_in(dir)) EXPECT_EQ(read_video(dir / name).frames, 9) << name;
}

// The same request gives the same file, also as a process's second or third video (x264's AVX-512
// routines made the bytes depend on its buffers' earlier contents: identical prompts in one run
// gave different files from equal frames).
TEST(CliGenerate, TheSameRequestThriceInOneRunGivesTheSameFile) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  const fs::path dir = testing::temp_dir("same-file-thrice");
  const std::string prompt = "A red fox runs through fresh snow at dawn.";
  std::ofstream(dir / "prompts.txt") << prompt << "\n" << prompt << "\n" << prompt << "\n";
  // Seed 2 at this size gave three different files before the fix.
  const CliRun r =
      run("generate --model " + testing::tiny_model_dir().string() +
          " --height 64 --width 64 --num-frames 9 --seed 2" + " --request.inputs.prompt_path " +
          (dir / "prompts.txt").string() + " --output " + (dir / "out").string() + "/");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string first = testing::file_bytes(dir / "out" / (prompt.substr(0, 41) + ".mp4"));
  ASSERT_FALSE(first.empty());
  for (const char* suffix : {"_1", "_2"}) {
    EXPECT_TRUE(first ==
                testing::file_bytes(dir / "out" / (prompt.substr(0, 41) + suffix + ".mp4")))
        << "video " << suffix << " differs from the first";
  }
}

// On the CPU the memory switches change nothing, and each one given says so (docs/memory.md; QA
// audit: --pin-cpu-memory false said nothing).
TEST(CliGenerate, MemorySwitchesOnTheCpuSayTheyChangeNothing) {
  const fs::path out = testing::temp_dir("cpu-memory-switches") / "v.y4m";
  const CliRun r = run(generate_args(testing::tiny_model_dir(), out) + kSmall +
                       " --device cpu --pin-cpu-memory false --dit-layerwise-offload true");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* name : {"pin_cpu_memory=false", "dit_layerwise_offload"}) {
    EXPECT_TRUE(testing::contains(r.output, std::string(name) + " has no effect on the CPU device"))
        << name << "\n"
        << r.output;
  }
}

// Bugs 9 and 11: name lengths are checked before any work, and a legal long name works.
TEST(CliGenerate, A246ByteNameWorksAndA300ByteNameIsRefusedUpFront) {
  const fs::path dir = testing::temp_dir("long-name");
  const fs::path legal = dir / (std::string(242, 'n') + ".y4m");
  CliRun ok = run(generate_args(testing::tiny_model_dir(), legal) + kSmall);
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_EQ(names_in(dir), (std::vector<std::string>{legal.filename().string(),
                                                     legal.filename().string() + ".json"}));
  // 251 bytes fit, but not the 256 of its metadata file beside it.
  const fs::path no_room = testing::temp_dir("no-room-for-metadata");
  expect_clean_failure(
      run(generate_args(testing::tiny_model_dir(), no_room / (std::string(247, 'n') + ".y4m"))),
      "its metadata file", no_room);
  const fs::path other = testing::temp_dir("too-long-name");
  CliRun bad =
      run(generate_args(testing::tiny_model_dir(), other / (std::string(296, 'n') + ".y4m")));
  expect_clean_failure(bad, "the file name is 300 bytes", other);
  EXPECT_EQ(bad.status, 1);
}

// Bug 12: the flag refuses what YAML refuses.
TEST(CliGenerate, ASeedBeyondSixtyFourBitsIsRefusedNotClamped) {
  const fs::path out = testing::temp_dir("seed-range");
  CliRun r =
      run(generate_args(testing::tiny_model_dir(), out / "v.y4m") + " --seed 18446744073709551616");
  expect_clean_failure(r, "--seed: key 'request.sampling.seed' has value '18446744073709551616'",
                       out);
  EXPECT_EQ(r.status, 1);
}

// Bug 13: messages name the real culprit and suggest what would work.
TEST(CliGenerate, MessagesNameTheFieldAtFaultAndSuggestValidValues) {
  const fs::path out = testing::temp_dir("messages");
  const std::string base = generate_args(testing::tiny_model_dir(), out / "v.y4m");
  expect_clean_failure(run(base + " --negative-prompt \"$(printf 'bad \\377 byte')\""),
                       "negative_prompt is not valid UTF-8: byte 0xff at offset 4", out);
  expect_clean_failure(run(base + " --width -64"),
                       "width=-64 must be a positive multiple of 16 (try 16)", out);
  expect_clean_failure(run(base + " --guidance-scale 1e9"),
                       "guidance_scale=1e+09 must be in [0, 100]", out);
  // A generator setting (FastVideo's pipeline flow_shift), checked as it is read.
  expect_clean_failure(run(base + " --flow-shift 1e9"),
                       "--flow-shift: key 'generator.pipeline.experimental.flow_shift' has value "
                       "'1e9', which is not in (0, 100]",
                       out);
}

// Bugs 9 and 14: a folder where a file belongs, a NUL in a prompt, duplicate keys: exit 1 naming
// the path or key, before any work, nothing left behind.
TEST(CliGenerate, FoldersForFilesNulPromptsAndDuplicateKeysAreNamedUpFront) {
  const fs::path dir = testing::temp_dir("folders-for-files");
  const fs::path out = dir / "out";
  fs::create_directories(out);
  CliRun config =
      run("generate --config " + dir.string() + " --output " + (out / "v.y4m").string());
  expect_clean_failure(config, dir.string() + ": is a folder", out);
  EXPECT_EQ(config.status, 1);
  fs::create_directories(dir / "log.json");
  CliRun log = run(generate_args(testing::tiny_model_dir(), out / "v.y4m") + " --log-json " +
                   (dir / "log.json").string());
  expect_clean_failure(log, "log.json: is a folder", out);
  EXPECT_EQ(log.status, 1);
  EXPECT_TRUE(fs::is_empty(dir / "log.json"));
  std::ofstream(dir / "nul.yaml") << "request:\n  prompt: \"a fox\\0 in snow\"\n";
  expect_clean_failure(run("generate --model " + testing::tiny_model_dir().string() + " --config " +
                           (dir / "nul.yaml").string() + " --output " + (out / "v.y4m").string()),
                       "key 'request.prompt' holds a NUL byte at offset 5", out);
  std::ofstream(dir / "twice.yaml") << "request:\n  prompt: a\n  prompt: b\n";
  expect_clean_failure(run("generate --config " + (dir / "twice.yaml").string()),
                       "key 'request.prompt' appears twice", out);
  // On the command line too, by a flag, an override or both (QA audit: one of them silently won).
  expect_clean_failure(run("generate --request.sampling.seed 1 --request.sampling.seed=2"),
                       "--request.sampling.seed is given twice; give it once", out);
  expect_clean_failure(run("generate --seed 1 --request.sampling.seed 2"),
                       "--request.sampling.seed and --seed both set request.sampling.seed", out);
  expect_clean_failure(run("generate --prompt fox --request.prompt cat"),
                       "--request.prompt and --prompt both set request.prompt", out);
  // The switch flags too (audit: --enable-torch-compile won over compile.enabled false silently).
  expect_clean_failure(
      run("generate --generator.engine.compile.enabled false --enable-torch-compile"),
      "--generator.engine.compile.enabled and --enable-torch-compile both set "
      "generator.engine.compile.enabled",
      out);
  expect_clean_failure(
      run("generate --generator.engine.quantization.transformer_quant null --transformer-quant "
          "FP8"),
      "--generator.engine.quantization.transformer_quant and --transformer-quant both set", out);
  expect_clean_failure(run("generate --request.output.overwrite false --overwrite"),
                       "--request.output.overwrite and --overwrite both set", out);
  // And --output (QA: --request.output.output_path was dropped without a word).
  expect_clean_failure(run("generate --output " + (out / "a.y4m").string() +
                           " --request.output.output_path " + (out / "b.y4m").string()),
                       "--request.output.output_path and --output both set", out);
  // A video file's path with a name to put inside it (QA: on.mp4/fox.mp4 was made).
  expect_clean_failure(
      run("generate --request.output.output_path " + (out / "on.y4m").string() +
          " --request.output.output_video_name fox.y4m"),
      "names a video file, so request.output.output_video_name 'fox.y4m' would name one inside it",
      out);
}

// A path need not be UTF-8: --log-json's record used to fail (an internal error after the video
// was made) on an output named with a Latin-1 byte; now that byte is U+FFFD in valid JSON.
TEST(CliGenerate, AnOutputPathThatIsNotUtf8IsRecordedInValidJson) {
  const fs::path dir = testing::temp_dir("not-utf8-path");
  const fs::path out = dir / "fox\xff.y4m";
  CliRun r = run(generate_args(testing::tiny_model_dir(), out) + kSmall + " --log-json " +
                 (dir / "log.json").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::is_regular_file(out));
  std::ifstream in(dir / "log.json");
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const nlohmann::json log = nlohmann::json::parse(text);
  EXPECT_EQ(log.at("output_path"), (dir / "fox\xEF\xBF\xBD.y4m").string()) << text;
}

// --log-json used to rename its file over whatever was at its path: the video itself, a file
// without --overwrite, a link, a FIFO, a device node (as root, /dev/full became a regular file).
TEST(CliGenerate, LogJsonReplacesOnlyARegularFileWithOverwriteAndNeverTheVideo) {
  const fs::path dir = testing::temp_dir("log-json-targets");
  const fs::path video = dir / "v.y4m";
  auto generate = [&](const fs::path& out, const fs::path& log, const std::string& more = "") {
    return run(generate_args(testing::tiny_model_dir(), out) + kSmall + " --log-json '" +
               log.string() + "'" + more);
  };
  // The output itself, before any work, also when it exists and --overwrite is given.
  CliRun same = generate(video, video);
  EXPECT_EQ(same.status, 1) << same.output;
  EXPECT_TRUE(contains(same.output, "v.y4m: is the video's output")) << same.output;
  EXPECT_FALSE(fs::exists(video));
  ASSERT_EQ(run(generate_args(testing::tiny_model_dir(), video) + kSmall).status, 0);
  same = generate(video, dir / "." / "v.y4m", " --overwrite");
  EXPECT_EQ(same.status, 1) << same.output;
  EXPECT_EQ(read_video(video).frames, 9) << "the video was replaced by the log";
  // Nor the metadata file beside a .y4m.
  same = generate(video, dir / "v.y4m.json", " --overwrite");
  EXPECT_EQ(same.status, 1) << same.output;
  EXPECT_TRUE(contains(same.output, "is the name of the video's metadata file")) << same.output;
  // Inside a PNG-frame output (which the run replaces whole), before any work.
  ASSERT_EQ(run(generate_args(testing::tiny_model_dir(), dir / "frames") + kSmall).status, 0);
  same = generate(dir / "frames", dir / "frames" / "log.json", " --overwrite");
  EXPECT_EQ(same.status, 1) << same.output;
  EXPECT_TRUE(contains(same.output, "is inside " + (dir / "frames").string() +
                                        ", the folder of PNG frames this run writes"))
      << same.output;
  EXPECT_FALSE(contains(same.output, "denois")) << "refused after the generation";
  // An existing file without --overwrite: kept, and nothing generated.
  std::ofstream(dir / "log.json") << "keep";
  const CliRun kept = generate(dir / "w.y4m", dir / "log.json");
  EXPECT_EQ(kept.status, 1) << kept.output;
  EXPECT_TRUE(contains(kept.output, "log.json exists; pass --overwrite")) << kept.output;
  EXPECT_EQ(testing::file_bytes(dir / "log.json"), "keep");
  EXPECT_FALSE(fs::exists(dir / "w.y4m")) << "refused before any work";
  // What is not a regular file, even with --overwrite.
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0644), 0);
  fs::create_symlink("log.json", dir / "link.json");
  for (const auto& [name, kind] : std::vector<std::pair<std::string, std::string>>{
           {"fifo", "is a FIFO"}, {"link.json", "is a symbolic link"}}) {
    const CliRun r = generate(dir / "w.y4m", dir / name, " --overwrite");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_TRUE(contains(r.output, name + ": " + kind)) << r.output;
  }
  EXPECT_TRUE(fs::is_fifo(dir / "fifo"));
  EXPECT_TRUE(fs::is_symlink(dir / "link.json"));
  EXPECT_FALSE(fs::exists(dir / "w.y4m")) << "refused before any work";
  // A folder that takes no files (root may write /proc by its permissions, yet cannot create).
  const CliRun proc = generate(dir / "w.y4m", "/proc/fastvideo-log.json");
  EXPECT_EQ(proc.status, 1) << proc.output;
  EXPECT_TRUE(contains(proc.output, "folder /proc takes no new files")) << proc.output;
  EXPECT_FALSE(fs::exists(dir / "w.y4m")) << "refused before any work";
  // A missing folder is made for the log as for the video, and goes again when the run fails.
  const CliRun made = generate(dir / "m.y4m", dir / "new" / "deeper" / "log.json");
  ASSERT_EQ(made.status, 0) << made.output;
  EXPECT_TRUE(fs::is_regular_file(dir / "new" / "deeper" / "log.json"));
  const CliRun failed = generate(dir / "f.y4m", dir / "gone" / "log.json", " --height 50");
  EXPECT_EQ(failed.status, 1) << failed.output;
  EXPECT_FALSE(fs::exists(dir / "gone")) << "the log's folder stayed after the failure";
  // Not made before the run: a new PNG-frame output's folder made early would have turned it into
  // a folder to name an MP4 in. Refused as inside the frames, before any work.
  const CliRun inside = generate(dir / "newframes", dir / "newframes" / "log.json");
  EXPECT_EQ(inside.status, 1) << inside.output;
  EXPECT_TRUE(contains(inside.output, "the folder of PNG frames this run writes")) << inside.output;
  EXPECT_FALSE(fs::exists(dir / "newframes"));
  // A regular file with --overwrite is replaced.
  const CliRun replaced = generate(dir / "w.y4m", dir / "log.json", " --overwrite");
  ASSERT_EQ(replaced.status, 0) << replaced.output;
  EXPECT_TRUE(nlohmann::json::parse(testing::file_bytes(dir / "log.json")).contains("load"));
  // Readable as any file the user writes (mkstemp had made it 0600): 0666 less the umask.
  const mode_t umask_bits = ::umask(0);
  ::umask(umask_bits);
  EXPECT_EQ(int(fs::status(dir / "log.json").permissions() & fs::perms::all),
            int(0666 & ~umask_bits));
  // A video's name in the folder the videos are named in from their prompts could turn out to be
  // the log's: refused before any work (QA audit: the video was made, then the run failed).
  if (mp4_supported()) {
    const fs::path named = dir / "named";
    fs::create_directories(named);
    const fs::path clash = named / "A red fox runs through fresh snow at dawn.mp4";
    const CliRun r = generate(named.string() + "/", clash, " --overwrite");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "where the videos are named from their prompts")) << r.output;
    EXPECT_TRUE(fs::is_empty(named)) << "refused before any work";
  }
}

// --device defaults to GPU 0 when it is usable, else the CPU, and says which.
TEST(CliGenerate, TheDefaultDeviceIsTheGpuWhenOneIsUsableElseTheCpuAndIsLogged) {
  const fs::path out = testing::temp_dir("default-device") / "v.y4m";
  CliRun r = run(generate_args(testing::tiny_model_dir(), out) + kSmall);
  ASSERT_EQ(r.status, 0) << r.output;
  if (describe_attention_backends("", "").gpu) {
    EXPECT_TRUE(contains(r.output, "device: cuda:0, the first GPU")) << r.output;
  } else {
    EXPECT_TRUE(contains(r.output, "device: cpu, since no GPU is usable")) << r.output;
  }
}

TEST(CliGenerate, AnEmptyOutputIsRefusedNotTakenAsNoFile) {
  const fs::path dir = testing::temp_dir("empty-output");
  CliRun r = run("generate --model " + testing::tiny_model_dir().string() + " " + testing::kPrompt +
                 " --output ''");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "--output is empty")) << r.output;
}

// QA audit: an empty value that would read as "not given", and output settings that --output
// would override, were dropped without a word; each is refused now, naming it, before any work.
TEST(CliGenerate, EmptyValuesAndOutputSettingsThatOutputOverridesAreRefused) {
  const fs::path dir = testing::temp_dir("refused-settings");
  const std::string base = "generate --model " + testing::tiny_model_dir().string() + " " +
                           testing::kPrompt + " --device cpu";
  const std::string out = " --output " + (dir / "v.y4m").string();
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {out + " --attention-backend ''", "--attention-backend: is empty"},
           {out + " --log-json ''", "--log-json: is empty"},
           {out + " --config ''", "--config: is empty"},
           {out + " --transformer-quant ''", "--transformer-quant: is empty"},
           {out + " --request.output.save_video false",
            "request.output.save_video is false (no file), but --output"},
           {" --output " + (dir / "nn").string() + "/ --request.output.output_video_name x.mp4",
            "request.output.output_video_name 'x.mp4' would go unused"}}) {
    const CliRun r = run(base + args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, message)) << args << "\n" << r.output;
  }
  EXPECT_TRUE(names_in(dir).empty()) << "something was written";
}

// Starts `fastvideo args` with its output (debug log included) in `log`; returns its pid.
pid_t start(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::setenv("FASTVIDEO_LOG_LEVEL", "debug", 1);
    // Whatever this test inherited (nohup ignores SIGHUP), the program gets the defaults.
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    const std::string program = testing::cli();
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls the log at `path` every `poll` until `seen(log)` or `limit` has passed.
void wait_for_log(const fs::path& path, const std::function<bool(const std::string&)>& seen,
                  std::chrono::seconds limit,
                  std::chrono::microseconds poll = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!seen(read_file(path)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(poll);
}

// A predicate for wait_for_log: the log holds `text`.
std::function<bool(const std::string&)> holds(std::string text) {
  return [text = std::move(text)](const std::string& log) { return contains(log, text); };
}

// Bug 4: a signal during denoising stops the generation after the current step: exit 128 +
// signal, a message, and no video, temporary or reserved name left. SIGHUP (a closed terminal)
// used to kill the process and leave its placeholder.
TEST(CliGenerate, StopSignalsStopCleanlyAndLeaveNothing) {
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    const fs::path dir = testing::temp_dir(str_cat("signal-", sig));
    const fs::path out = dir / "out";
    fs::create_directories(out);
    // SIGTERM and SIGHUP into a folder, so that the reserved automatic name must go too.
    const std::string target =
        sig != SIGINT && mp4_supported() ? out.string() + "/" : (out / "v.y4m").string();
    const pid_t pid =
        start({"generate", "--model", testing::tiny_model_dir().string(), "--prompt", "a fox",
               "--num-inference-steps", "1000", "--device", "cpu", "--output", target},
              dir / "log");
    // Wait until denoising has started, so the stop lands between its steps.
    wait_for_log(dir / "log", holds("denoise step 2/1000"), std::chrono::seconds(60));
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const std::string log = read_file(dir / "log");
    ASSERT_TRUE(WIFEXITED(status)) << log;
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig) << log;
    // After a step or, on the CPU, within one: "(step 3 of 1000, transformer block 2 of 2)".
    EXPECT_TRUE(contains(log, "stopped during denoising (after step") ||
                contains(log, "stopped during denoising (step "))
        << log;
    EXPECT_TRUE(contains(log, str_cat("on ", sig == SIGINT    ? "SIGINT"
                                             : sig == SIGTERM ? "SIGTERM"
                                                              : "SIGHUP")))
        << log;
    EXPECT_TRUE(fs::is_empty(out)) << "left behind in " << out;
  }
}

// A stop during the second video of a batch keeps the first: its file and its record in the JSON
// log (the log was written only after the last video, so a stop lost every record).
TEST(CliGenerate, AStoppedBatchKeepsTheLogOfTheVideosWritten) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  const fs::path dir = testing::temp_dir("batch-stop");
  const fs::path out = dir / "out";
  std::ofstream(dir / "prompts.txt") << "a fox\na bird\n";
  std::ofstream(dir / "run.yaml") << "request:\n  inputs:\n    prompt_path: "
                                  << (dir / "prompts.txt").string()
                                  << "\n  output:\n    output_path: " << out.string() << "/\n";
  const pid_t pid = start(
      {"generate", "--model", testing::tiny_model_dir().string(), "--config",
       (dir / "run.yaml").string(), "--num-inference-steps", "300", "--height", "32", "--width",
       "32", "--num-frames", "5", "--device", "cpu", "--log-json", (dir / "log.json").string()},
      dir / "log");
  const auto second_video_denoising = [](const std::string& log) {
    const size_t second = log.find("video 2/2");
    return second != std::string::npos &&
           log.find("denoise step 2/300", second) != std::string::npos;
  };
  wait_for_log(dir / "log", second_video_denoising, std::chrono::seconds(120));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string log = read_file(dir / "log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 130) << log;
  EXPECT_TRUE(contains(log, "1 of 2 videos written")) << log;
  const nlohmann::json records = nlohmann::json::parse(read_file(dir / "log.json"));
  ASSERT_TRUE(records.is_array()) << records.dump();
  ASSERT_EQ(records.size(), 1u) << records.dump();
  EXPECT_TRUE(records[0].contains("load")) << records.dump();
}

// One signal delivered twice at once (GNU timeout signals the process, then its process group) is
// one stop, not the "quit at once" of a second: the run still stops cleanly and says so.
TEST(CliGenerate, ASignalDeliveredTwiceAtOnceIsOneStop) {
  const fs::path dir = testing::temp_dir("signal-echo");
  const fs::path out = dir / "out";
  fs::create_directories(out);
  const pid_t pid =
      start({"generate", "--model", testing::tiny_model_dir().string(), "--prompt", "a fox",
             "--num-inference-steps", "1000", "--height", "128", "--width", "128", "--num-frames",
             "17", "--device", "cpu", "--output", (out / "v.y4m").string()},
            dir / "log");
  wait_for_log(dir / "log", holds("denoise step 2/1000"), std::chrono::seconds(60));
  const auto first = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  // The second copy once the first was handled (at once, pending copies merge into one), while
  // the run still goes on: it stops within the current transformer block, tens of milliseconds.
  wait_for_log(dir / "log", holds("stopping after the current step"), std::chrono::seconds(5),
               std::chrono::microseconds(200));
  int status = 0;
  const bool running = ::waitpid(pid, &status, WNOHANG) == 0;
  const bool in_time = std::chrono::steady_clock::now() - first < std::chrono::milliseconds(150);
  if (running) ::kill(pid, running && in_time ? SIGINT : SIGKILL);
  if (running) ::waitpid(pid, &status, 0);
  if (!running || !in_time)
    GTEST_SKIP() << "this machine was too slow to send the second copy within the echo window";
  const std::string log = read_file(dir / "log");
  ASSERT_TRUE(WIFEXITED(status)) << "ended by the signal: the echo was taken as a second one\n"
                                 << log;
  EXPECT_EQ(WEXITSTATUS(status), 130) << log;
  EXPECT_TRUE(contains(log, "stopped during denoising")) << log;
  EXPECT_TRUE(fs::is_empty(out)) << "left behind in " << out;
}

// FastVideo's scripts/inference/inference_wan.yaml layout (its keys and values as FastVideo ships
// them, our own prompts): one video per prompt line, named from the prompt, the model loaded
// once. The size is shrunk with overrides: at its own 480x832x77 and 50 steps the tiny model takes
// over 15 minutes a video on a 2-core CPU (tried with FastVideo's file and its 8 prompts).
TEST(CliGenerate, FastVideosPromptFileRunConfigurationRuns) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  const fs::path dir = testing::temp_dir("prompt-file");
  std::ofstream(dir / "prompts.txt") << "A red fox runs through fresh snow at dawn.\n\n"
                                        "  A paper boat drifts down a rainy street.  \n";
  std::ofstream(dir / "inference_wan.yaml")
      << "generator:\n  model_path: " << testing::tiny_model_dir().string()
      << "\n  engine:\n    num_gpus: 1\n    parallelism:\n      tp_size: 1\n      sp_size: 1\n"
         "    offload:\n      dit: false\n      vae: false\n      pin_cpu_memory: false\n"
         "  pipeline:\n    experimental:\n      flow_shift: 8.0\nrequest:\n  negative_prompt: >-\n"
         "    Bright tones, overexposed, static, blurred details\n  inputs:\n    prompt_path: "
      << (dir / "prompts.txt").string()
      << "\n  sampling:\n    seed: 1024\n    num_frames: 77\n    height: 480\n    width: 832\n"
         "    fps: 16\n    num_inference_steps: 50\n    guidance_scale: 6.0\n  output:\n"
         "    output_path: "
      << (dir / "outputs_video").string() << "/\n";
  CliRun r =
      run("generate --config " + (dir / "inference_wan.yaml").string() +
          " --request.sampling.num_frames 5 --request.sampling.height 32"
          " --request.sampling.width 32 --request.sampling.num_inference_steps 2 --device cpu "
          "--log-json " +
          (dir / "log.json").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(names_in(dir / "outputs_video"),
            (std::vector<std::string>{"A paper boat drifts down a rainy street.mp4",
                                      "A red fox runs through fresh snow at dawn.mp4"}));
  EXPECT_TRUE(contains(r.output, "found 2 prompts")) << r.output;
  EXPECT_TRUE(contains(r.output, "video 2/2: A paper boat drifts down a rainy street."))
      << r.output;
  const std::string log = read_file(dir / "log.json");
  EXPECT_EQ(log.front(), '[') << "one summary per video";
  EXPECT_EQ(
      read_video_metadata(dir / "outputs_video" / "A red fox runs through fresh snow at dawn.mp4")
          .entries.at("flow_shift"),
      "8");
  // The model loads once for the whole file.
  size_t loads = 0;
  for (size_t at = r.output.find("attention backends"); at != std::string::npos;
       at = r.output.find("attention backends", at + 1))
    ++loads;
  EXPECT_EQ(loads, 1u) << r.output;
  // A prompt and a prompt file together, or a file name for the videos, are refused.
  EXPECT_TRUE(contains(
      run("generate --config " + (dir / "inference_wan.yaml").string() + " --prompt x").output,
      "both set"));
  // FastVideo's request.prompt as a list does the same, without a file; --prompt replaces it.
  std::ofstream(dir / "listed.yaml") << "request:\n  prompt: [a fox, a bird]\n  output:\n"
                                        "    output_path: "
                                     << (dir / "listed").string() << "\n";
  const std::string small =
      " --request.sampling.num_frames 5 --request.sampling.height 32"
      " --request.sampling.width 32 --request.sampling.num_inference_steps 2 --device cpu "
      "--model " +
      testing::tiny_model_dir().string();
  r = run("generate --config " + (dir / "listed.yaml").string() + small);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(names_in(dir / "listed"), (std::vector<std::string>{"a bird.mp4", "a fox.mp4"}));
  r = run("generate --config " + (dir / "listed.yaml").string() + small + " --prompt 'a cat'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(names_in(dir / "listed"),
            (std::vector<std::string>{"a bird.mp4", "a cat.mp4", "a fox.mp4"}));
}

// FastVideo's scripts/inference/inference_wan_VSA_DMD_1_3B.yaml and inference_wan_VSA.yaml at
// commit 2f3d4074, verbatim but for generator.model_path (MODEL_PATH here).
const char* const kVsaDmdRunFile = R"(# Run with:
#   FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN fastvideo generate --config scripts/inference/inference_wan_VSA_DMD_1_3B.yaml
generator:
  model_path: MODEL_PATH
  engine:
    num_gpus: 1
    compile:
      enabled: true
    parallelism:
      tp_size: 1
      sp_size: 1
    offload:
      dit: false
      vae: false
      pin_cpu_memory: false
  pipeline:
    experimental:
      VSA_sparsity: 0.8
      dmd_denoising_steps: [1000, 757, 522]
request:
  negative_prompt: >-
    Bright tones, overexposed, static, blurred details, subtitles, style,
    works, paintings, images, static, overall gray, worst quality, low
    quality, JPEG compression residue, ugly, incomplete, extra fingers,
    poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen
    limbs, fused fingers, still picture, messy background, three legs, many
    people in the background, walking backwards
  inputs:
    prompt_path: assets/prompt.txt
  sampling:
    seed: 1024
    num_frames: 81
    height: 480
    width: 832
    fps: 16
    num_inference_steps: 3
  output:
    output_path: outputs_video_dmd_1.3B/
)";
const char* const kVsaRunFile = R"(# Run with:
#   FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN fastvideo generate --config scripts/inference/inference_wan_VSA.yaml
generator:
  model_path: MODEL_PATH
  engine:
    num_gpus: 1
    parallelism:
      tp_size: 1
      sp_size: 1
    offload:
      dit: false
      vae: false
      pin_cpu_memory: false
  pipeline:
    experimental:
      flow_shift: 5.0
      VSA_sparsity: 0.9
request:
  negative_prompt: >-
    Bright tones, overexposed, static, blurred details, subtitles, style,
    works, paintings, images, static, overall gray, worst quality, low
    quality, JPEG compression residue, ugly, incomplete, extra fingers,
    poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen
    limbs, fused fingers, still picture, messy background, three legs, many
    people in the background, walking backwards
  inputs:
    prompt_path: assets/prompt.txt
  sampling:
    seed: 1024
    num_frames: 77
    height: 448
    width: 832
    fps: 16
    num_inference_steps: 50
    guidance_scale: 5.0
  output:
    output_path: outputs_Wan-VSA-14B/
)";

// A folder laid out as FastVideo's repository root for its run files: assets/prompt.txt, the run
// file with model_path replaced (and `edit` applied), outputs relative to it.
fs::path fastvideo_run_folder(const std::string& name, std::string text, const fs::path& model,
                              const std::string& remove = "") {
  const fs::path dir = testing::temp_dir(name);
  fs::create_directories(dir / "assets");
  std::ofstream(dir / "assets" / "prompt.txt") << "A red fox runs through fresh snow at dawn.\n";
  text.replace(text.find("MODEL_PATH"), 10, model.string());
  if (!remove.empty()) text.erase(text.find(remove), remove.size());
  std::ofstream(dir / "run.yaml") << text;
  return dir;
}

bool vsa_runs_on_the_cpu() {
  for (const auto& b : describe_attention_backends("cpu", "").backends) {
    if (b.name == "VIDEO_SPARSE_ATTN") return b.status == "available";
  }
  return false;
}

fs::path tiny_fastwan_model() {
  static const fs::path dir = [] {
    const fs::path d = testing::temp_dir("cli-fastwan") / "model";
    const CliRun r = run("make-tiny-model " + d.string() + " --config fastwan --seed 0");
    EXPECT_EQ(r.status, 0) << r.output;
    return d;
  }();
  return dir;
}

TEST(CliFastWan, ATinyFastWanGenerationIsFiniteAndDeterministic) {
  const fs::path dir = testing::temp_dir("fastwan-e2e");
  const std::string args = generate_args(tiny_fastwan_model(), dir / "a.y4m") +
                           " --num-frames 9 --height 64 --width 64 --device cpu";
  CliRun a = run(args);
  ASSERT_EQ(a.status, 0) << a.output;
  CliRun b = run(generate_args(tiny_fastwan_model(), dir / "b.y4m") +
                 " --num-frames 9 --height 64 --width 64 --device cpu");
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_EQ(read_file(dir / "a.y4m"), read_file(dir / "b.y4m")) << "same seed, other bytes";
  const Video v = read_video(dir / "a.y4m");
  EXPECT_EQ(v.frames, 9);
  const auto meta = read_video_metadata(dir / "a.y4m").entries;
  EXPECT_EQ(meta.at("pipeline"), "WanDMDPipeline");
  EXPECT_EQ(meta.at("num_inference_steps"), "3");
  EXPECT_EQ(meta.at("dmd_denoising_steps"), "[1000, 757, 522]");
}

TEST(CliFastWan, VsaSparsityOutsideZeroToOneIsRefusedNamingValueAndSource) {
  const fs::path out = testing::temp_dir("vsa-range") / "out";
  CliRun flag = run(generate_args(tiny_fastwan_model(), out / "v.y4m") + " --VSA-sparsity 1.5");
  expect_clean_failure(flag, "--VSA-sparsity", out);
  EXPECT_TRUE(contains(flag.output, "'1.5'") && contains(flag.output, "[0, 1)")) << flag.output;
  const fs::path yaml = testing::temp_dir("vsa-range-yaml") / "run.yaml";
  std::ofstream(yaml) << "generator:\n  pipeline:\n    experimental:\n      VSA_sparsity: -0.25\n";
  CliRun file =
      run("generate --config " + yaml.string() + " --model " + tiny_fastwan_model().string() + " " +
          testing::kPrompt + " --output " + (out / "v.y4m").string());
  expect_clean_failure(file, "generator.pipeline.experimental.VSA_sparsity", out);
  EXPECT_TRUE(contains(file.output, "'-0.25'")) << file.output;
}

TEST(CliFastWan, AnExplicitVsaSparsityWithAnotherBackendIsRefusedNamingBoth) {
  const fs::path out = testing::temp_dir("vsa-backend") / "out";
  CliRun r = run(generate_args(testing::tiny_model_dir(), out / "v.y4m") +
                 " --VSA-sparsity 0.5 --attention-backend TORCH_SDPA --device cpu");
  expect_clean_failure(r, "VSA_sparsity=0.5", out);
  EXPECT_TRUE(contains(r.output, "TORCH_SDPA") && contains(r.output, "VIDEO_SPARSE_ATTN"))
      << r.output;
}

TEST(CliFastWan, BadDmdDenoisingStepsAreRefusedByKey) {
  const fs::path out = testing::temp_dir("dmd-steps") / "out";
  const std::string key = "--generator.pipeline.experimental.dmd_denoising_steps";
  for (const char* bad : {"'[]'", "'[1000, 1200]'", "'[757, 1000]'", "1000,x"}) {
    CliRun r = run(generate_args(tiny_fastwan_model(), out / "v.y4m") + " " + key + " " + bad);
    expect_clean_failure(r, "generator.pipeline.experimental.dmd_denoising_steps", out);
  }
  // FastVideo's comma-separated form works, and the steps follow it.
  fs::create_directories(out);
  CliRun ok = run(generate_args(tiny_fastwan_model(), out / "v.y4m") + " " + key +
                  " 1000,600 --device cpu");
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_EQ(read_video_metadata(out / "v.y4m").entries.at("num_inference_steps"), "2");
}

// --torch-compile-kwargs takes one JSON object: text that would close it and set other keys is
// refused, and its keywords are checked as dit_kwargs' are.
TEST(CliCompile, TorchCompileKwargsAreOneJsonObjectCheckedByKeyword) {
  const fs::path out = testing::temp_dir("compile-kwargs") / "x.y4m";
  const std::string base = generate_args(testing::tiny_model_dir(), out) + " --device cpu";
  expect_clean_failure(
      run(base +
          R"( --torch-compile-kwargs '{"mode": "default"}}, "pipeline": {"vae_tiling": true')"),
      "expected one JSON object", out);
  expect_clean_failure(run(base + R"( --torch-compile-kwargs '{"mode": "bogus"}')"),
                       "generator.engine.compile.dit_kwargs.mode", out);
}

// The FastWan run file sets compile.enabled: true, and compile mode captures CUDA graphs: on the
// CPU it is refused by that key before any work.
TEST(CliFastWan, FastVideosVsaDmdRunFileOnTheCpuIsRefusedForItsCompileKey) {
  const fs::path dir = fastvideo_run_folder("vsa-dmd-file", kVsaDmdRunFile, tiny_fastwan_model());
  CliRun r = run("generate --config run.yaml --device cpu",
                 "cd " + dir.string() + " && FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN");
  expect_clean_failure(r, "generator.engine.compile.enabled", dir / "outputs_video_dmd_1.3B");
  EXPECT_FALSE(fs::exists(dir / "outputs_video_dmd_1.3B"));
}

// The same file without its compile key, run as FastVideo's comment says (VIDEO_SPARSE_ATTN), at a
// tiny size; skipped in a build where that backend cannot run on the CPU.
TEST(CliFastWan, FastVideosVsaDmdRunFileRunsWithTheVsaBackend) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  if (!vsa_runs_on_the_cpu()) GTEST_SKIP() << "VIDEO_SPARSE_ATTN does not run on the CPU here";
  const fs::path dir = fastvideo_run_folder("vsa-dmd-run", kVsaDmdRunFile, tiny_fastwan_model(),
                                            "    compile:\n      enabled: true\n");
  CliRun r =
      run("generate --config run.yaml --device cpu --request.sampling.num_frames 9"
          " --request.sampling.height 64 --request.sampling.width 64",
          "cd " + dir.string() + " && FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto meta = read_video_metadata(dir / "outputs_video_dmd_1.3B" /
                                        "A red fox runs through fresh snow at dawn.mp4")
                        .entries;
  EXPECT_EQ(meta.at("attention_backend_self"), "VIDEO_SPARSE_ATTN");
  EXPECT_EQ(meta.at("VSA_sparsity"), "0.8");
  EXPECT_EQ(meta.at("dmd_denoising_steps"), "[1000, 757, 522]");
  EXPECT_EQ(meta.at("seed"), "1024");
}

// FastVideo's scripts/inference/inference_wan_1.3B_VMoba.yaml at commit 2f3d4074, verbatim but for
// generator.model_path (MODEL_PATH here), and its fastvideo/configs/backend/vmoba JSON at the path
// it names, relative to where it runs.
const char* const kVmobaRunFile = R"(# Run with:
#   FASTVIDEO_ATTENTION_BACKEND=VMOBA_ATTN fastvideo generate --config scripts/inference/inference_wan_1.3B_VMoba.yaml
generator:
  model_path: MODEL_PATH
  engine:
    num_gpus: 1
    parallelism:
      tp_size: 1
      sp_size: 1
    offload:
      dit: false
      vae: false
      pin_cpu_memory: false
  pipeline:
    experimental:
      flow_shift: 8.0
      moba_config_path: fastvideo/configs/backend/vmoba/wan_1.3B_77_480_832.json
request:
  negative_prompt: >-
    Bright tones, overexposed, static, blurred details, subtitles, style,
    works, paintings, images, static, overall gray, worst quality, low
    quality, JPEG compression residue, ugly, incomplete, extra fingers,
    poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen
    limbs, fused fingers, still picture, messy background, three legs, many
    people in the background, walking backwards
  inputs:
    prompt_path: assets/prompt.txt
  sampling:
    seed: 1024
    num_frames: 77
    height: 480
    width: 832
    fps: 16
    num_inference_steps: 50
    guidance_scale: 6.0
  output:
    output_path: outputs_video/
)";
const char* const kVmoba480Json = R"({
    "temporal_chunk_size": 2,
    "temporal_topk": 3,
    "spatial_chunk_size": [3, 4],
    "spatial_topk": 20,
    "st_chunk_size": [4, 6, 4],
    "st_topk": 15,
    "moba_select_mode": "threshold",
    "moba_threshold": 0.25,
    "moba_threshold_type": "query_head",
    "first_full_layer": 0,
    "first_full_step": 12,
    "temporal_layer": 1,
    "spatial_layer": 1,
    "st_layer": 1
})";

// FastVideo's VMoBA run file, run as its comment says, at a tiny size (chunks larger than the
// tiny grid leave partial chunks) and 14 steps, 2 of them past first_full_step.
TEST(CliFastVideoRunFiles, FastVideosVmobaRunFileRunsWithItsJson) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  const fs::path dir = fastvideo_run_folder("vmoba-run", kVmobaRunFile, testing::tiny_model_dir());
  const fs::path json = dir / "fastvideo/configs/backend/vmoba/wan_1.3B_77_480_832.json";
  fs::create_directories(json.parent_path());
  std::ofstream(json) << kVmoba480Json;
  CliRun r =
      run("generate --config run.yaml --device cpu --request.sampling.num_frames 9"
          " --request.sampling.height 64 --request.sampling.width 64"
          " --request.sampling.num_inference_steps 14",
          "cd " + dir.string() + " && FASTVIDEO_ATTENTION_BACKEND=VMOBA_ATTN");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto meta =
      read_video_metadata(dir / "outputs_video" / "A red fox runs through fresh snow at dawn.mp4")
          .entries;
  EXPECT_EQ(meta.at("attention_backend_self"), "VMOBA_ATTN");
  EXPECT_EQ(meta.at("moba_config_path"),
            "fastvideo/configs/backend/vmoba/wan_1.3B_77_480_832.json");
  // Without the backend its comment asks for, the config is refused naming both.
  CliRun plain = run("generate --config run.yaml --device cpu --attention-backend TORCH_SDPA",
                     "cd " + dir.string() + " &&");
  EXPECT_NE(plain.status, 0);
  EXPECT_TRUE(contains(plain.output, "moba_config_path is set")) << plain.output;
}

// inference_wan_VSA.yaml on a plain Wan2.1 checkpoint: its VSA_sparsity 0.9 is explicit, so
// without the backend FastVideo's comment asks for it is refused naming both.
TEST(CliFastWan, FastVideosVsaRunFileNeedsTheVsaBackend) {
  const fs::path dir = fastvideo_run_folder("vsa-file", kVsaRunFile, testing::tiny_model_dir());
  CliRun r = run("generate --config run.yaml --device cpu --attention-backend TORCH_SDPA",
                 "cd " + dir.string() + " &&");
  expect_clean_failure(r, "VSA_sparsity=0.9", dir / "outputs_Wan-VSA-14B");
  EXPECT_TRUE(contains(r.output, "TORCH_SDPA")) << r.output;
}

// Run as FastVideo's comment says (VIDEO_SPARSE_ATTN), at a tiny size; skipped in a build where
// that backend cannot run on the CPU.
TEST(CliFastWan, FastVideosVsaRunFileRunsWithTheVsaBackend) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg: automatic names are MP4";
  if (!vsa_runs_on_the_cpu()) GTEST_SKIP() << "VIDEO_SPARSE_ATTN does not run on the CPU here";
  const fs::path dir = fastvideo_run_folder("vsa-run", kVsaRunFile, testing::tiny_model_dir());
  CliRun r =
      run("generate --config run.yaml --device cpu --request.sampling.num_frames 5"
          " --request.sampling.height 32 --request.sampling.width 32"
          " --request.sampling.num_inference_steps 2",
          "cd " + dir.string() + " && FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto meta = read_video_metadata(dir / "outputs_Wan-VSA-14B" /
                                        "A red fox runs through fresh snow at dawn.mp4")
                        .entries;
  EXPECT_EQ(meta.at("VSA_sparsity"), "0.9");
  EXPECT_EQ(meta.at("flow_shift"), "5");
  EXPECT_EQ(meta.at("guidance_scale"), "5");
}

}  // namespace
}  // namespace fastvideo
