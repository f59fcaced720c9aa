// `fastvideo serve` as its clients meet it: the real binary on the tiny model, on a free port,
// driven over HTTP by httplib's client, curl and the official openai Python package. A video goes
// through submit → poll → download → delete; it is the same bytes `fastvideo generate` writes for
// the same request; bad input of every kind gets a 4xx in OpenAI's error shape naming the field
// while /health keeps answering; a full queue answers 429 with Retry-After and loses no accepted
// job; DELETE and SIGTERM stop a running job and leave no file behind.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "cli_runner.h"
#include "io/video_reader.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

extern char** environ;

namespace fastvideo {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// A small, quick job: 5 frames of 32×32 (0.25 s at the tiny model's 16 fps), 2 steps.
const json kSmallJob = {{"prompt", "A red fox runs through fresh snow at dawn."},
                        {"size", "32x32"},
                        {"seconds", "0.25"},
                        {"num_inference_steps", 2},
                        {"seed", 7}};
// One that runs until it is stopped, as far as a test is concerned.
const json kLongJob = {{"prompt", "A long one."}, {"size", "64x64"}, {"num_inference_steps", 1000}};

// `fastvideo serve` on the tiny model (or `model`), on a port the system picks, videos in a fresh
// folder.
class ServeProcess {
 public:
  explicit ServeProcess(const std::string& name, std::vector<std::string> extra = {},
                        fs::path output_dir = {}, const fs::path& model = testing::tiny_model_dir())
      : output_dir_(output_dir.empty() ? testing::temp_dir("serve-" + name) : output_dir) {
    std::vector<std::string> args = {testing::cli(), "serve", "--model",      model.string(),
                                     "--port",       "0",     "--output-dir", output_dir_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    // Whatever this test inherited (nohup ignores SIGHUP), the server gets the defaults.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, &attributes, argv.data(), environ), 0);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    // The server prints "... listening on http://127.0.0.1:PORT (...)" once it accepts requests.
    FILE* out = ::fdopen(fds[0], "r");
    char line[4096];
    while (std::fgets(line, sizeof line, out)) {
      const std::string text = line;
      const size_t at = text.find("http://127.0.0.1:");
      if (at == std::string::npos) continue;
      port_ = std::stoi(text.substr(at + std::strlen("http://127.0.0.1:")));
      break;
    }
    std::fclose(out);
    EXPECT_GT(port_, 0) << "the server did not start";
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60s);
    return c;
  }
  int port() const { return port_; }
  const fs::path& output_dir() const { return output_dir_; }

  // `sig`, then the exit status (-1: killed by a signal).
  int terminate(int sig = SIGTERM) {
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // `first`, and `second` `after` later; the signal that ended the process (0: it exited).
  int terminate_twice(std::chrono::milliseconds after, int first = SIGTERM, int second = SIGTERM) {
    ::kill(pid_, first);
    std::this_thread::sleep_for(after);
    ::kill(pid_, second);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }

 private:
  fs::path output_dir_;
  pid_t pid_ = -1;
  int port_ = -1;
};

// The files of `dir` but the server's work folder, which is there while the server runs (its
// lock); once the server stopped, it is gone too.
std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name != ".fastvideo-serve") names.push_back(name);
  }
  return names;
}

// Every entry of `dir`, hidden ones included.
std::vector<std::string> everything_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

json body_of(const httplib::Result& r) {
  if (!r) return json{{"transport_error", httplib::to_string(r.error())}};
  return json::parse(r->body, nullptr, false);
}

json submit(httplib::Client& c, const json& job) {
  auto r = c.Post("/v1/videos", job.dump(), "application/json");
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : httplib::to_string(r.error()));
  return body_of(r);
}

json get_video(httplib::Client& c, const std::string& id) {
  return body_of(c.Get("/v1/videos/" + id));
}

// Polls until the job is completed, failed or cancelled (or 60 s).
json wait_for_end(httplib::Client& c, const std::string& id) {
  json job;
  for (int i = 0; i < 3000; ++i) {
    job = get_video(c, id);
    const std::string status = job.value("status", "");
    if (status != "queued" && status != "in_progress") return job;
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << id << " never ended: " << job;
  return job;
}

json wait_for_status(httplib::Client& c, const std::string& id, const std::string& status) {
  json job;
  for (int i = 0; i < 3000; ++i) {
    job = get_video(c, id);
    if (job.value("status", "") == status) return job;
    std::this_thread::sleep_for(10ms);
  }
  ADD_FAILURE() << id << " never became " << status << ": " << job;
  return job;
}

void expect_mp4(const std::string& bytes) {
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_EQ(bytes.substr(4, 4), "ftyp") << "not an MP4";
}

// An error answer: the status, OpenAI's error object, the field it names.
void expect_error(const httplib::Result& r, int status, const json& param,
                  const std::string& what) {
  ASSERT_TRUE(r) << what << ": " << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << what;
  const json body = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(body.contains("error")) << what << ": " << r->body;
  const json& e = body["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << what;
  EXPECT_TRUE(e["type"].is_string()) << what;
  EXPECT_TRUE(e.contains("code")) << what;
  EXPECT_EQ(e["param"], param) << what << ": " << r->body;
}

TEST(Serve, SubmitPollDownloadDelete) {
  ServeProcess server("lifecycle");
  auto c = server.client();
  const json queued = submit(c, kSmallJob);
  const std::string id = queued["id"];
  EXPECT_EQ(queued["object"], "video");
  EXPECT_EQ(queued["model"], "tiny-model");  // the checkpoint folder's name
  EXPECT_EQ(queued["size"], "32x32");
  EXPECT_EQ(queued["seconds"], "0.25");
  EXPECT_TRUE(queued["completed_at"].is_null());

  const json done = wait_for_end(c, id);
  EXPECT_EQ(done["status"], "completed") << done;
  EXPECT_EQ(done["progress"], 100);
  EXPECT_EQ(done["expires_at"].get<int64_t>(), done["completed_at"].get<int64_t>() + 3600);
  EXPECT_EQ(files_in(server.output_dir()), std::vector<std::string>{id + ".mp4"});

  auto content = c.Get("/v1/videos/" + id + "/content");
  ASSERT_TRUE(content && content->status == 200);
  EXPECT_EQ(content->get_header_value("Content-Type"), "video/mp4");
  expect_mp4(content->body);
  const fs::path copy = server.output_dir().parent_path() / (id + "-copy.mp4");
  std::ofstream(copy, std::ios::binary) << content->body;
  const Video video = read_video(copy);
  EXPECT_EQ(video.frames, 5);
  EXPECT_EQ(video.width, 32);
  EXPECT_EQ(video.height, 32);

  const json list = body_of(c.Get("/v1/videos"));
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["id"], id);

  const json deleted = body_of(c.Delete("/v1/videos/" + id));
  EXPECT_EQ(deleted, (json{{"id", id}, {"object", "video.deleted"}, {"deleted", true}}));
  expect_error(c.Get("/v1/videos/" + id), 404, "video_id", "a deleted video");
  EXPECT_TRUE(files_in(server.output_dir()).empty());
  EXPECT_EQ(server.terminate(), 0);
}

// issue 13: a video made through the server and through the CLI with the same request and seed
// is the same file, byte for byte (metadata included). The server's request comes as a form, as
// the openai package sends it.
TEST(Serve, VideoIsByteIdenticalToFastvideoGenerate) {
  ServeProcess server("identity");
  auto c = server.client();
  const httplib::MultipartFormDataItems form = {{"prompt", kSmallJob["prompt"], "", ""},
                                                {"size", "32x32", "", ""},
                                                {"seconds", "0.25", "", ""},
                                                {"num_inference_steps", "2", "", ""},
                                                {"seed", "7", "", ""},
                                                {"negative_prompt", "blurry", "", ""},
                                                {"guidance_scale", "4.5", "", ""}};
  auto posted = c.Post("/v1/videos", form);
  ASSERT_TRUE(posted && posted->status == 200) << (posted ? posted->body : "");
  const std::string id = body_of(posted)["id"];
  ASSERT_EQ(wait_for_end(c, id)["status"], "completed");
  const std::string served = c.Get("/v1/videos/" + id + "/content")->body;

  const fs::path out = testing::temp_dir("serve-identity-cli") / "cli.mp4";
  const testing::CliRun cli = testing::run(
      "generate --model " + testing::tiny_model_dir().string() + " " + testing::kPrompt +
      " --height 32 --width 32 --num-frames 5 --num-inference-steps 2 --seed 7 --negative-prompt "
      "blurry --guidance-scale 4.5 --output " +
      out.string());
  ASSERT_EQ(cli.status, 0) << cli.output;
  const std::string generated = testing::file_bytes(out);
  EXPECT_TRUE(served == generated)
      << "server " << served.size() << " bytes, CLI " << generated.size() << " bytes";
}

// --config takes FastVideo's generator section (here a flow_shift every job then runs with); a
// request section would be ignored by a server, so it is refused by name.
TEST(Serve, ConfigTakesTheGeneratorSectionAndRefusesARequestSection) {
  const fs::path dir = testing::temp_dir("serve-config-files");
  const std::string model = testing::tiny_model_dir().string();
  std::ofstream(dir / "with-request.yaml")
      << "generator:\n  model_path: " << model << "\nrequest:\n  sampling:\n    seed: 3\n";
  const testing::CliRun refused =
      testing::run("serve --port 0 --config " + (dir / "with-request.yaml").string());
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find("request.sampling.seed"), std::string::npos) << refused.output;
  // Compile mode reaches the engine, which refuses it on the CPU before serving.
  const testing::CliRun compile =
      testing::run("serve --port 0 --device cpu --model " + model + " --enable-torch-compile");
  EXPECT_EQ(compile.status, 1) << compile.output;
  EXPECT_NE(compile.output.find("compile mode captures CUDA graphs"), std::string::npos)
      << compile.output;
  // So do the several-GPU flags (the tiny model's 2 heads cannot split 3 ways).
  const testing::CliRun gpus = testing::run(
      "serve --port 0 --model " + model + " --device cpu --num-gpus 3 --dist-timeout 60",
      "FASTVIDEO_CPU_RANKS=1");
  EXPECT_EQ(gpus.status, 1) << gpus.output;
  EXPECT_NE(gpus.output.find("do not divide among sp_size = 3"), std::string::npos) << gpus.output;

  std::ofstream(dir / "run.yaml") << "generator:\n  model_path: " << model
                                  << "\n  pipeline:\n    experimental:\n      flow_shift: 5.0\n";
  ServeProcess server("config", {"--config", (dir / "run.yaml").string()});
  auto c = server.client();
  // The backend's name matches in any case, as --attention-backend and the variable do.
  json any_case = kSmallJob;
  any_case["attention_backend"] = "torch_sdpa";
  const std::string id = submit(c, any_case)["id"];
  ASSERT_EQ(wait_for_end(c, id)["status"], "completed");
  const fs::path copy = dir / "video.mp4";
  std::ofstream(copy, std::ios::binary) << c.Get("/v1/videos/" + id + "/content")->body;
  EXPECT_EQ(read_video_metadata(copy).entries.at("flow_shift"), "5");
}

// Each refused before the model loads, naming the flag or variable; before, -1 wrapped into an
// unlimited queue, the huge size was taken, and an empty key served without one.
// As every command: exit 1 and a "fastvideo: error:" line naming the flag (cli_test).
// Every job without a seed made the same video, FastVideo's default seed's (QA audit); an OpenAI
// client expects a new one per call. Each draws a seed now, and the job object says which.
TEST(Serve, WithoutASeedEachJobDrawsOneAndSaysWhich) {
  ServeProcess server("seeds");
  auto c = server.client();
  json unseeded = kSmallJob;
  unseeded.erase("seed");
  const json a = submit(c, unseeded), b = submit(c, unseeded), seven = submit(c, kSmallJob);
  ASSERT_TRUE(a["seed"].is_number_unsigned() && b["seed"].is_number_unsigned()) << a << b;
  EXPECT_NE(a["seed"], b["seed"]);
  EXPECT_EQ(seven["seed"], 7);
  EXPECT_EQ(get_video(c, a["id"])["seed"], a["seed"]);
  for (const json& job : {a, b, seven}) wait_for_end(c, job["id"]);
  EXPECT_NE(c.Get("/v1/videos/" + a["id"].get<std::string>() + "/content")->body,
            c.Get("/v1/videos/" + b["id"].get<std::string>() + "/content")->body);
}

TEST(Serve, AnUnparsableCommandLineExitsOneWithAnErrorLineNamingTheFlag) {
  for (const auto& [args, culprit] : std::vector<std::pair<std::string, std::string>>{
           {"serve --bogus", "--bogus"}, {"serve --port abc", "--port"}}) {
    const testing::CliRun r = testing::run(args);
    EXPECT_EQ(r.status, 1) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("fastvideo: error: ", 0), 0u) << args << ": " << r.output;
    EXPECT_NE(r.output.find(culprit), std::string::npos) << args << ": " << r.output;
  }
  const testing::CliRun help = testing::run("serve --help");
  EXPECT_EQ(help.status, 0) << help.output;
  EXPECT_NE(help.output.find("--queue-size"), std::string::npos) << help.output;
}

TEST(Serve, OutOfRangeFlagsAndEmptyKeysAreRefusedByName) {
  const std::string serve = "serve --port 0 --model " + testing::tiny_model_dir().string() +
                            " --output-dir " + testing::temp_dir("serve-flags").string() + " ";
  for (const auto& [flags, env, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--queue-size -1", "", "--queue-size: '-1' is not an integer in [1, 100000]"},
           {"--max-body-bytes 99999999999999999999", "",
            "--max-body-bytes: '99999999999999999999' is not an integer"},
           {"--retention 1e3", "", "--retention: '1e3' is not an integer"},
           {"--api-key ''", "", "--api-key is empty"},
           {"--max-frames 0", "", "--max-frames: '0' is not an integer in [1, 1000000]"},
           {"--max-steps 1", "",
            "a job without num_inference_steps gets the model's default, and 4 denoising steps "
            "are over this server's limit of 1 (fastvideo serve --max-steps)"},
           {"", "FASTVIDEO_API_KEY=", "FASTVIDEO_API_KEY is set but empty"}}) {
    // Bounded: a server that did start would otherwise never return.
    const testing::CliRun r = testing::run(serve + flags, env + " timeout 60");
    EXPECT_EQ(r.status, 1) << flags << env << ": " << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << flags << env << ": " << r.output;
  }
}

// The tiny model's defaults (9 frames at 16 fps, 64x64, 4 steps) as the caps: a job over one is
// refused naming its field, the value, the cap and the flag; one within them runs.
TEST(Serve, JobsOverTheServersCapsAreRefusedNamingTheField) {
  ServeProcess server("caps", {"--max-frames", "9", "--max-pixels", "4096", "--max-steps", "4"});
  auto c = server.client();
  auto with = [](json job, const std::string& key, const json& value) {
    job[key] = value;
    return job.dump();
  };
  for (const auto& [key, value, message] : std::vector<std::tuple<std::string, json, std::string>>{
           {"seconds", "1",
            "seconds=1: 17 frames (at 16 fps) are over this server's limit of 9 (fastvideo serve "
            "--max-frames)"},
           {"size", "128x64",
            "size=128x64: 128x64 is 8192 pixels a frame, over this server's limit of 4096 "
            "(fastvideo serve --max-pixels)"},
           {"num_inference_steps", 5,
            "5 denoising steps are over this server's limit of 4 (fastvideo serve --max-steps)"}}) {
    const auto r = c.Post("/v1/videos", with(kSmallJob, key, value), "application/json");
    expect_error(r, 400, key, key);
    if (r) EXPECT_NE(r->body.find(message), std::string::npos) << r->body;
  }
  // FastVideo's num_frames over the cap is blamed on num_frames.
  json frames = kSmallJob;
  frames.erase("seconds");
  frames["num_frames"] = 17;
  const auto over = c.Post("/v1/videos", frames.dump(), "application/json");
  expect_error(over, 400, "num_frames", "num_frames");
  if (over) EXPECT_NE(over->body.find("num_frames=17: 17 frames"), std::string::npos) << over->body;
  const json job = submit(c, kSmallJob);
  EXPECT_EQ(wait_for_end(c, job.value("id", ""))["status"], "completed");
  // FastVideo's request fields for the length (a helper's audit: refused as unknown): num_frames
  // and fps; the job says its seconds from them.
  frames["num_frames"] = 9;
  frames["fps"] = 8;
  const json counted = submit(c, frames);
  EXPECT_EQ(counted["seconds"], "1") << counted.dump();
  EXPECT_EQ(wait_for_end(c, counted.value("id", ""))["status"], "completed");
}

TEST(Serve, BadInputGetsAJsonErrorNamingTheFieldAndTheServerStaysUp) {
  ServeProcess server("bad-input", {"--max-body-bytes", "65536"});
  auto c = server.client();
  auto post = [&](const std::string& body, const std::string& type = "application/json") {
    return c.Post("/v1/videos", body, type.c_str());
  };
  auto with = [](json job, const std::string& key, const json& value) {
    job[key] = value;
    return job.dump();
  };
  struct Case {
    std::string what;
    httplib::Result result;
    int status;
    json param;
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, httplib::Result r, int status, json param) {
    cases.push_back({std::move(what), std::move(r), status, std::move(param)});
  };
  add("malformed JSON", post("{\"prompt\": \"x\""), 400, nullptr);
  add("not an object", post("[1, 2]"), 400, nullptr);
  // Printing a value this deep overflowed the stack (100,000 levels crashed the server).
  add("nested 30,000 deep",
      post("{\"prompt\": " + std::string(30000, '[') + std::string(30000, ']') + "}"), 400,
      nullptr);
  add("a field given twice", post(R"({"prompt": "x", "seed": 1, "seed": 2})"), 400, "seed");
  add("unknown field", post(with(kSmallJob, "num_frames", 9)), 400, "num_frames");
  add("refused OpenAI field", post(with(kSmallJob, "input_reference", "x.png")), 400,
      "input_reference");
  add("missing prompt", post(R"({"size": "32x32"})"), 400, "prompt");
  add("empty prompt", post(with(kSmallJob, "prompt", "")), 400, "prompt");
  add("prompt of the wrong type", post(with(kSmallJob, "prompt", 5)), 400, "prompt");
  add("prompt of whitespace", post(with(kSmallJob, "prompt", " \n\t")), 400, "prompt");
  add("prompt of ideographic spaces", post(with(kSmallJob, "prompt", "\u3000\u3000")), 400,
      "prompt");
  add("seed past 64 bits", post(R"({"prompt": "x", "seed": 18446744073709551616})"), 400, "seed");
  add("seed of the wrong type", post(with(kSmallJob, "seed", "seven")), 400, "seed");
  add("negative seed", post(with(kSmallJob, "seed", -1)), 400, "seed");
  add("fractional steps", post(with(kSmallJob, "num_inference_steps", 2.5)), 400,
      "num_inference_steps");
  add("steps as a boolean", post(with(kSmallJob, "num_inference_steps", true)), 400,
      "num_inference_steps");
  add("steps out of range", post(with(kSmallJob, "num_inference_steps", 0)), 400,
      "num_inference_steps");
  add("guidance of the wrong type", post(with(kSmallJob, "guidance_scale", "high")), 400,
      "guidance_scale");
  add("size not WxH", post(with(kSmallJob, "size", "32by32")), 400, "size");
  add("size with a sign", post(with(kSmallJob, "size", "-32x32")), 400, "size");
  add("size with a leading zero", post(with(kSmallJob, "size", "032x32")), 400, "size");
  add("size not a multiple of 16", post(with(kSmallJob, "size", "30x32")), 400, "size");
  add("size as a number", post(with(kSmallJob, "size", 32)), 400, "size");
  add("seconds not a number", post(with(kSmallJob, "seconds", "four")), 400, "seconds");
  add("negative seconds", post(with(kSmallJob, "seconds", "-1")), 400, "seconds");
  add("seconds past the model's range", post(with(kSmallJob, "seconds", "3000")), 400, "seconds");
  add("num_frames beside seconds", post(with(kSmallJob, "num_frames", 5)), 400, "num_frames");
  json unseconded = kSmallJob;
  unseconded.erase("seconds");
  add("num_frames not 4n+1", post(with(unseconded, "num_frames", 8)), 400, "num_frames");
  add("fps out of range", post(with(kSmallJob, "fps", 1000)), 400, "fps");
  add("another model", post(with(kSmallJob, "model", "sora-2")), 400, "model");
  add("another attention backend", post(with(kSmallJob, "attention_backend", "FLASH_ATTN")), 400,
      "attention_backend");
  add("an unknown attention backend", post(with(kSmallJob, "attention_backend", "FOO")), 400,
      "attention_backend");
  {
    const auto unknown_backend = post(with(kSmallJob, "attention_backend", "FOO"));
    ASSERT_TRUE(unknown_backend);
    EXPECT_NE(unknown_backend->body.find("'FOO' is not an attention backend (TORCH_SDPA"),
              std::string::npos)
        << unknown_backend->body;
  }
  add("null value", post(with(kSmallJob, "seed", nullptr)), 400, "seed");
  add("unsupported content type", post("prompt=x", "text/plain"), 415, nullptr);
  // curl -d's default type: its body fills the query parameters, still a 415 and not a 400.
  add("form-urlencoded", post(kSmallJob.dump(), "application/x-www-form-urlencoded"), 415, nullptr);
  add("a number past a double", post(R"({"prompt": "fox", "guidance_scale": 1e999})"), 400,
      "guidance_scale");
  // Without CFG the engine only warns on the server's stderr; the client is answered.
  add("a negative prompt without CFG",
      post(R"({"prompt": "fox", "negative_prompt": "bad", "guidance_scale": 1})"), 400,
      "negative_prompt");
  add("a seed past a double", post(R"({"prompt": "fox", "seed": -1e999})"), 400, "seed");
  add("PUT on the videos", c.Put("/v1/videos", kSmallJob.dump(), "application/json"), 405, nullptr);
  add("POST on /health", c.Post("/health", "", "application/json"), 405, nullptr);
  add("PATCH on a video",
      c.Patch("/v1/videos/video_0123456789abcdef0123456789abcdef", "", "application/json"), 405,
      nullptr);
  add("huge body", post(with(kSmallJob, "prompt", std::string(200000, 'a'))), 413, nullptr);
  add("unknown id", c.Get("/v1/videos/video_0123456789abcdef0123456789abcdef"), 404, "video_id");
  add("unknown id's content", c.Get("/v1/videos/video_0123456789abcdef0123456789abcdef/content"),
      404, "video_id");
  add("delete an unknown id", c.Delete("/v1/videos/video_0123456789abcdef0123456789abcdef"), 404,
      "video_id");
  add("id of another form", c.Get("/v1/videos/abc"), 404, "video_id");
  add("path traversal", c.Get("/v1/videos/..%2F..%2F..%2Fetc%2Fpasswd"), 404, nullptr);
  add("path traversal, encoded dots", c.Get("/v1/videos/%2e%2e/content"), 404, "video_id");
  add("path traversal, raw", c.Get("/v1/videos/../../etc/passwd"), 404, nullptr);
  add("unknown route", c.Get("/v1/images"), 404, nullptr);
  add("unknown query parameter", c.Get("/v1/videos?page=2"), 400, "page");
  add("limit out of range", c.Get("/v1/videos?limit=0"), 400, "limit");
  add("limit given twice", c.Get("/v1/videos?limit=1&limit=2"), 400, "limit");
  add("bad order", c.Get("/v1/videos?order=up"), 400, "order");
  add("unknown after", c.Get("/v1/videos?after=video_0123456789abcdef0123456789abcdef"), 400,
      "after");
  for (Case& k : cases) {
    expect_error(k.result, k.status, k.param, k.what);
    auto health = c.Get("/health");
    ASSERT_TRUE(health && health->status == 200) << "after " << k.what;
  }
  // Said in the API's terms, not the CLI's; out of range, not of the wrong type.
  const auto message = [&](const std::string& what) {
    for (const Case& k : cases) {
      if (k.what == what) return body_of(k.result)["error"].value("message", "");
    }
    return std::string();
  };
  EXPECT_EQ(message("prompt of whitespace"), "prompt holds only whitespace; give a prompt");
  EXPECT_NE(message("nested 30,000 deep").find("deeper than 64 levels (at byte 75)"),
            std::string::npos)
      << message("nested 30,000 deep");
  EXPECT_NE(message("seed past 64 bits").find("must be in [0, 18446744073709551615]"),
            std::string::npos)
      << message("seed past 64 bits");
  EXPECT_EQ(message("a negative prompt without CFG"),
            "negative_prompt is not used: guidance_scale=1 runs one pass per step, without "
            "classifier-free guidance; leave negative_prompt out or set guidance_scale above 1");
  // A form: a file upload and a field given twice are refused by name.
  httplib::MultipartFormDataItems file = {{"prompt", "x", "", ""},
                                          {"input_reference", "PNG", "x.png", "image/png"}};
  expect_error(c.Post("/v1/videos", file), 400, "input_reference", "a file in the form");
  httplib::MultipartFormDataItems twice = {{"prompt", "x", "", ""}, {"prompt", "y", "", ""}};
  expect_error(c.Post("/v1/videos", twice), 400, "prompt", "a field given twice");
  httplib::MultipartFormDataItems text_seed = {{"prompt", "x", "", ""}, {"seed", "7x", "", ""}};
  expect_error(c.Post("/v1/videos", text_seed), 400, "seed", "a form's seed that is not a number");
  // Media types are case-insensitive; a 405 says which methods the route takes.
  const std::string id =
      body_of(post(with(kSmallJob, "num_inference_steps", 1), "APPLICATION/JSON; charset=UTF-8"))
          .value("id", "");
  EXPECT_FALSE(id.empty()) << "a JSON body under an upper-case media type";
  EXPECT_EQ(c.Put("/v1/videos", "", "application/json")->get_header_value("Allow"),
            "GET, HEAD, POST");
  if (!id.empty()) wait_for_end(c, id);
  c.Delete("/v1/videos/" + id);
  EXPECT_TRUE(files_in(server.output_dir()).empty());
  EXPECT_EQ(server.terminate(), 0);
}

// FastWan runs no classifier-free guidance: a negative prompt, which it would never encode, is
// refused naming the field and why, as guidance_scale > 1 is (the engine only warns, on the
// server's stderr); a job without one runs.
TEST(Serve, ANegativePromptOnFastWanIsRefusedNamingWhy) {
  ServeProcess server("fastwan", {}, {}, testing::tiny_fastwan_dir());
  auto c = server.client();
  const json job = {{"prompt", "A fox."}, {"size", "32x32"}, {"seconds", "0.25"}, {"seed", 7}};
  json negative = job;
  negative["negative_prompt"] = "blurry";
  const auto refused = c.Post("/v1/videos", negative.dump(), "application/json");
  expect_error(refused, 400, "negative_prompt", "a negative prompt on FastWan");
  EXPECT_EQ(body_of(refused)["error"].value("message", ""),
            "negative_prompt is not used: the WanDMDPipeline (FastWan) runs one conditional "
            "transformer pass per step and no classifier-free guidance; leave negative_prompt out");
  json guided = job;
  guided["guidance_scale"] = 3;
  expect_error(c.Post("/v1/videos", guided.dump(), "application/json"), 400, "guidance_scale",
               "guidance on FastWan");
  EXPECT_EQ(wait_for_end(c, submit(c, job).value("id", ""))["status"], "completed");
  EXPECT_EQ(server.terminate(), 0);
}

// A video's content in byte ranges (RFC 7233): httplib's own handling wrote a last byte past the
// end into Content-Range as asked, and answered a range past the end with a 416 naming that range
// instead of "bytes */SIZE".
TEST(Serve, ContentRangesAreCheckedAgainstTheVideosSize) {
  ServeProcess server("ranges");
  auto c = server.client();
  const std::string id = submit(c, kSmallJob).value("id", "");
  ASSERT_EQ(wait_for_end(c, id)["status"], "completed");
  const std::string path = "/v1/videos/" + id + "/content";
  const std::string video = c.Get(path)->body;
  const size_t size = video.size();
  ASSERT_GT(size, 20u);
  auto ranged = [&](const std::string& range) {
    return c.Get(path, httplib::Headers{{"Range", "bytes=" + range}});
  };
  for (const std::string& range : {str_cat(size, "-"), std::string("999999-"),
                                   std::string("999999-9999999"), std::string("-0")}) {
    const auto r = ranged(range);
    expect_error(r, 416, nullptr, range);
    if (!r) continue;
    EXPECT_EQ(r->get_header_value_count("Content-Range"), 1u) << range;
    EXPECT_EQ(r->get_header_value("Content-Range"), str_cat("bytes */", size)) << range;
    EXPECT_NE(r->body.find("asks for no byte of video"), std::string::npos) << r->body;
  }
  // first-last, a last byte past the end, a suffix, and a set of which one range is satisfiable.
  for (const auto& [range, first, last] : std::vector<std::tuple<std::string, size_t, size_t>>{
           {"10-19", 10, 19},
           {"0-999999", 0, size - 1},
           {"-5", size - 5, size - 1},
           {str_cat("3-,", size + 10, "-"), 3, size - 1}}) {
    const auto r = ranged(range);
    ASSERT_TRUE(r) << range;
    EXPECT_EQ(r->status, 206) << range;
    EXPECT_EQ(r->get_header_value("Content-Range"), str_cat("bytes ", first, "-", last, "/", size))
        << range;
    EXPECT_EQ(r->body, video.substr(first, last - first + 1)) << range;
  }
  // An error answer goes out whole, not cut to the range.
  const auto unknown = c.Get("/v1/videos/video_0123456789abcdef0123456789abcdef/content",
                             httplib::Headers{{"Range", "bytes=5-"}});
  expect_error(unknown, 404, "video_id", "an unknown video's content in a range");
  if (unknown) EXPECT_FALSE(unknown->has_header("Content-Range"));
  // A completed video whose file went (a temp cleaner, a user) can never be ready: 410 naming
  // the file, where 409 "not ready" kept a polling client waiting.
  ASSERT_TRUE(fs::remove(server.output_dir() / (id + ".mp4")));
  const auto gone = c.Get(path);
  expect_error(gone, 410, "video_id", "a completed video whose file was removed");
  if (gone) {
    EXPECT_NE(gone->body.find("is gone from the server's folder"), std::string::npos) << gone->body;
  }
}

TEST(Serve, ApiKeyIsRequiredOnEveryRouteButHealth) {
  ::setenv("FASTVIDEO_API_KEY", "sk-test", 1);  // as --api-key, kept out of the process list
  ServeProcess server("api-key");
  ::unsetenv("FASTVIDEO_API_KEY");
  auto c = server.client();
  expect_error(c.Get("/v1/models"), 401, nullptr, "no key");
  expect_error(c.Post("/v1/videos", kSmallJob.dump(), "application/json"), 401, nullptr, "no key");
  c.set_bearer_token_auth("sk-wrong");
  expect_error(c.Get("/v1/videos"), 401, nullptr, "a wrong key");
  c.set_bearer_token_auth("sk-test");
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models && models->status == 200);
  // The scheme is case-insensitive; the key is not.
  auto lowercase = server.client().Get("/v1/models", {{"Authorization", "bearer sk-test"}});
  EXPECT_TRUE(lowercase && lowercase->status == 200) << (lowercase ? lowercase->body : "");
  expect_error(server.client().Get("/v1/models", {{"Authorization", "Bearer SK-TEST"}}), 401,
               nullptr, "the key in another case");
  const auto basic = server.client().Get("/v1/models", {{"Authorization", "Basic sk-test"}});
  expect_error(basic, 401, nullptr, "another scheme");
  EXPECT_EQ(basic->get_header_value("WWW-Authenticate"), "Bearer");
  // A refusal goes out whole, whatever Range the request names (it went out as 4 bytes).
  const auto ranged = server.client().Get("/v1/videos/video_abc/content", {{"Range", "bytes=0-3"}});
  expect_error(ranged, 401, nullptr, "no key, in a range");
  if (ranged) EXPECT_FALSE(ranged->has_header("Content-Range")) << ranged->body;
  EXPECT_EQ(body_of(models)["data"][0]["id"], "tiny-model");
  // Retrieving the model by its id answers the list's entry; any other id is a 404 naming it.
  const auto one = c.Get("/v1/models/tiny-model");
  ASSERT_TRUE(one && one->status == 200) << (one ? one->body : "");
  EXPECT_EQ(body_of(one), body_of(models)["data"][0]);
  const auto other = c.Get("/v1/models/Wan2.1-T2V-14B-Diffusers");
  expect_error(other, 404, "model", "another model's id");
  if (other) {
    EXPECT_NE(other->body.find("'Wan2.1-T2V-14B-Diffusers'"), std::string::npos) << other->body;
    EXPECT_NE(other->body.find("model_not_found"), std::string::npos) << other->body;
  }
  expect_error(server.client().Get("/v1/models/tiny-model"), 401, nullptr, "one model, no key");
  EXPECT_EQ(c.Delete("/v1/models/tiny-model")->get_header_value("Allow"), "GET, HEAD");
  auto health = server.client().Get("/health");
  ASSERT_TRUE(health && health->status == 200);
}

TEST(Serve, ListIsPaginated) {
  ServeProcess server("list");
  auto c = server.client();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit(c, kSmallJob)["id"]);
  const json first = body_of(c.Get("/v1/videos?limit=2&order=asc"));
  ASSERT_EQ(first["data"].size(), 2u);
  EXPECT_EQ(first["data"][0]["id"], ids[0]);
  EXPECT_EQ(first["last_id"], ids[1]);
  EXPECT_EQ(first["has_more"], true);
  const json rest = body_of(c.Get("/v1/videos?limit=2&order=asc&after=" + ids[1]));
  ASSERT_EQ(rest["data"].size(), 1u);
  EXPECT_EQ(rest["data"][0]["id"], ids[2]);
  EXPECT_EQ(rest["has_more"], false);
  const json newest = body_of(c.Get("/v1/videos?limit=1"));
  EXPECT_EQ(newest["data"][0]["id"], ids[2]) << "newest first by default";
  for (const std::string& id : ids) wait_for_end(c, id);
}

// issue 13: 40 concurrent submissions against a queue of 8. Every accepted job completes, the
// rest get 429 with Retry-After, and /health answers throughout.
TEST(Serve, AFullQueueAnswers429AndLosesNoAcceptedJob) {
  ServeProcess server("queue-full", {"--queue-size", "8"});
  std::atomic<bool> submitting{true};
  std::atomic<int> health_failures{0}, health_checks{0};
  std::thread health([&] {
    auto c = server.client();
    c.set_read_timeout(5s);
    while (submitting) {
      auto r = c.Get("/health");
      ++health_checks;
      if (!r || r->status != 200) ++health_failures;
      std::this_thread::sleep_for(20ms);
    }
  });
  std::vector<std::string> accepted;
  std::atomic<int> refused{0}, other{0};
  std::mutex mutex;
  json job = kSmallJob;
  job["num_inference_steps"] = 4;
  std::vector<std::thread> clients;
  for (int i = 0; i < 40; ++i) {
    clients.emplace_back([&, i] {
      auto c = server.client();
      json mine = job;
      mine["seed"] = i;
      auto r = c.Post("/v1/videos", mine.dump(), "application/json");
      if (r && r->status == 200) {
        std::lock_guard lock(mutex);
        accepted.push_back(body_of(r)["id"]);
      } else if (r && r->status == 429) {
        expect_error(r, 429, nullptr, "a full queue");
        EXPECT_GE(std::stoi(r->get_header_value("Retry-After")), 1);
        ++refused;
      } else {
        ADD_FAILURE() << "submission " << i << ": "
                      << (r ? std::to_string(r->status) + " " + r->body
                            : httplib::to_string(r.error()));
        ++other;
      }
    });
  }
  for (auto& t : clients) t.join();
  auto c = server.client();
  for (const std::string& id : accepted) {
    EXPECT_EQ(wait_for_end(c, id)["status"], "completed") << id;
  }
  submitting = false;
  health.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(int(accepted.size()) + refused, 40);
  EXPECT_GE(accepted.size(), 8u) << "eight waiting (and one running, once the worker took it)";
  EXPECT_GT(refused, 0);
  EXPECT_EQ(health_failures, 0) << "of " << health_checks;
  EXPECT_EQ(files_in(server.output_dir()).size(), accepted.size());
  EXPECT_EQ(server.terminate(), 0);
  EXPECT_TRUE(everything_in(server.output_dir()).empty());
}

TEST(Serve, DeleteCancelsQueuedAndRunningJobsAndLeavesNoFile) {
  ServeProcess server("cancel");
  auto c = server.client();
  const std::string running = submit(c, kLongJob)["id"];
  const std::string waiting = submit(c, kLongJob)["id"];
  wait_for_status(c, running, "in_progress");
  // Progress moves while the job runs.
  json job = json::object();
  for (int i = 0; i < 500 && job.value("progress", 0) == 0; ++i) {
    job = get_video(c, running);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(job["progress"].get<int>(), 0);
  EXPECT_LT(job["progress"].get<int>(), 100);
  expect_error(c.Get("/v1/videos/" + running + "/content"), 409, "video_id", "content too early");

  ASSERT_EQ(body_of(c.Delete("/v1/videos/" + waiting))["deleted"], true);
  expect_error(c.Get("/v1/videos/" + waiting), 404, "video_id", "a deleted queued job");
  ASSERT_EQ(body_of(c.Delete("/v1/videos/" + running))["deleted"], true);
  // Deleted means gone, running or not: neither GET nor the list shows the job.
  expect_error(c.Get("/v1/videos/" + running), 404, "video_id", "a deleted running job");
  EXPECT_TRUE(body_of(c.Get("/v1/videos"))["data"].empty());
  EXPECT_TRUE(files_in(server.output_dir()).empty());
  // The generator is free again: the next job completes.
  EXPECT_EQ(wait_for_end(c, submit(c, kSmallJob)["id"])["status"], "completed");
  EXPECT_EQ(server.terminate(), 0);
}

// SIGHUP (the terminal or ssh session closed) used to kill the server and leave its videos.
TEST(Serve, SigtermAndSighupCancelTheRunningJobLeaveNoFileAndExitZero) {
  for (const int sig : {SIGTERM, SIGHUP}) {
    ServeProcess server(str_cat("signal-", sig));
    auto c = server.client();
    const std::string id = submit(c, kLongJob)["id"];
    submit(c, kLongJob);
    wait_for_status(c, id, "in_progress");
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(server.terminate(sig), 0) << sig;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
    EXPECT_TRUE(everything_in(server.output_dir()).empty()) << sig;
    EXPECT_FALSE(server.client().Get("/health")) << "it stopped listening";
  }
}

// The folders a server made for its --output-dir go at a clean exit, with its videos (QA: they
// stayed, empty); a folder that was there stays.
TEST(Serve, TheOutputFoldersItMadeGoAtExit) {
  const fs::path parent = testing::temp_dir("serve-made-folders");
  {
    ServeProcess server("made-folders", {}, parent / "new" / "videos");
    auto c = server.client();
    EXPECT_EQ(wait_for_end(c, submit(c, kSmallJob)["id"])["status"], "completed");
    EXPECT_TRUE(fs::is_directory(parent / "new" / "videos"));
    EXPECT_EQ(server.terminate(), 0);
  }
  EXPECT_FALSE(fs::exists(parent / "new")) << "the folders made for --output-dir stayed";
  EXPECT_TRUE(fs::exists(parent));
}

// httplib's default socket options set SO_REUSEPORT, with which a second server bound the same
// port and took a share of the first one's connections. The port is refused before the model
// loads (a real model takes minutes): the second server's model folder does not even exist. The
// --output-dir folders it made for itself go again.
TEST(Serve, ASecondServerOnTheSamePortIsRefusedBeforeItLoadsAModel) {
  ServeProcess first("port-first");
  const std::string port = std::to_string(first.port());
  const fs::path parent = testing::temp_dir("serve-port-second");
  // Bounded: a second server that did start would otherwise never return.
  const testing::CliRun second = testing::run(
      "serve --model " + testing::temp_dir("serve-port-no-model").string() + "/missing --port " +
          port + " --output-dir " + (parent / "new" / "videos").string(),
      "timeout 60");
  EXPECT_EQ(second.status, 1) << second.output;
  EXPECT_NE(second.output.find("cannot listen on 127.0.0.1:" + port + " (address in use)"),
            std::string::npos)
      << second.output;
  EXPECT_FALSE(fs::exists(parent / "new")) << "the folders made for --output-dir stayed";
  EXPECT_TRUE(fs::exists(parent));
  auto health = first.client().Get("/health");
  ASSERT_TRUE(health && health->status == 200);
}

// A new server used to delete every video_<id>.mp4 in its --output-dir as a killed server's
// leftovers, a running server's videos included.
TEST(Serve, ASecondServerOnTheSameOutputDirIsRefusedAndTheFirstKeepsItsVideos) {
  ServeProcess first("folder-first");
  auto c = first.client();
  const std::string id = submit(c, kSmallJob)["id"];
  ASSERT_EQ(wait_for_end(c, id)["status"], "completed");
  const testing::CliRun second =
      testing::run("serve --port 0 --model " + testing::tiny_model_dir().string() +
                       " --output-dir " + first.output_dir().string(),
                   "timeout 60");
  EXPECT_EQ(second.status, 1) << second.output;
  EXPECT_NE(second.output.find(first.output_dir().string() +
                               ": another fastvideo serve uses this folder"),
            std::string::npos)
      << second.output;
  EXPECT_EQ(files_in(first.output_dir()), std::vector<std::string>{id + ".mp4"});
  auto content = c.Get("/v1/videos/" + id + "/content");
  ASSERT_TRUE(content && content->status == 200);
  expect_mp4(content->body);
  // Once the first stopped, the folder is free again.
  EXPECT_EQ(first.terminate(), 0);
  ServeProcess next("folder-next", {}, first.output_dir());
  EXPECT_EQ(next.terminate(), 0);
  EXPECT_TRUE(everything_in(first.output_dir()).empty());
}

// A TCP connection to the server's port, optionally with the start of a request.
int connect_to(int port, const std::string& first_bytes = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(uint16_t(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  if (!first_bytes.empty()) EXPECT_GT(::send(fd, first_bytes.data(), first_bytes.size(), 0), 0);
  return fd;
}

struct Exchange {
  std::string answer;   // the head and as many bytes of body as its Content-Length says
  bool closed = false;  // the server closed the connection after it
};

// Sends `request` on a new connection, reads the server's answer (or what came before two quiet
// seconds), then whether the server closes the connection within two seconds.
Exchange exchange(int port, const std::string& request) {
  const int fd = connect_to(port, request);
  timeval two_seconds{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
  Exchange e;
  char buffer[4096];
  const auto whole = [&e] {
    const size_t head = e.answer.find("\r\n\r\n");
    if (head == std::string::npos) return false;
    const size_t field = e.answer.find("Content-Length: ");
    if (field == std::string::npos || field > head) return true;
    return e.answer.size() >= head + 4 + std::stoul(e.answer.substr(field + 16));
  };
  while (!whole()) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    e.answer.append(buffer, size_t(n));
  }
  e.closed = ::recv(fd, buffer, sizeof buffer, 0) == 0;
  ::close(fd);
  return e;
}

// Bodies whose size Content-Length does not state were read past --max-body-bytes: a chunked
// 500 MiB prompt was queued and the tokenizer took the machine's memory; a 400 KB gzip body grew
// to 400 MB. They, a Content-Length given twice or not as a number, and a POST without one, are
// refused at once, before the body is read.
TEST(Serve, BodiesOfUnstatedSizeAreRefusedBeforeTheyAreRead) {
  ServeProcess server("framing", {"--max-body-bytes", "65536"});
  const std::string job = kSmallJob.dump();
  const auto hex = [](size_t n) {
    char text[32];
    std::snprintf(text, sizeof text, "%zx", n);
    return std::string(text);
  };
  const std::string post =
      "POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  struct Case {
    std::string what, headers, body;
    int status;
    std::string says;
  };
  const Case cases[] = {
      {"a chunked body", "Transfer-Encoding: chunked\r\n",
       str_cat(hex(job.size()), "\r\n", job, "\r\n0\r\n\r\n"), 411, "Transfer-Encoding 'chunked'"},
      {"a gzip body", str_cat("Content-Encoding: gzip\r\nContent-Length: ", job.size(), "\r\n"),
       job, 415, "Content-Encoding 'gzip'"},
      {"two lengths", str_cat("Content-Length: ", job.size(), "\r\nContent-Length: 500\r\n"), job,
       400, "more than once"},
      {"a negative length", "Content-Length: -1\r\n", job, 400, "'-1' is not a number of bytes"},
      {"no length", "", "", 411, "needs a Content-Length"},
  };
  for (const Case& c : cases) {
    const auto asked = std::chrono::steady_clock::now();
    // The connection closes after the refusal: the unread body is never taken for a request.
    const Exchange e = exchange(server.port(), post + c.headers + "\r\n" + c.body);
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 5s) << c.what;
    EXPECT_EQ(e.answer.substr(0, 12), str_cat("HTTP/1.1 ", c.status)) << c.what << ": " << e.answer;
    EXPECT_NE(e.answer.find(c.says), std::string::npos) << c.what << ": " << e.answer;
    EXPECT_TRUE(e.closed) << c.what;
  }
  // httplib hands a Range header's numbers to the answer unchecked: the answer stays the answer,
  // not what lies after it in memory.
  const Exchange ranged = exchange(
      server.port(), post + "Range: bytes=0-100000\r\n" + "Transfer-Encoding: chunked\r\n\r\n");
  EXPECT_LT(ranged.answer.size() - ranged.answer.find("\r\n\r\n"), 400u) << ranged.answer;
  // With Expect: 100-continue the refusal comes instead of the go-ahead, so no body is sent.
  const Exchange expecting =
      exchange(server.port(), post + "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(expecting.answer.substr(0, 12), "HTTP/1.1 411") << expecting.answer;
  EXPECT_TRUE(expecting.closed);
  // Nothing was queued, and a plain request still is.
  auto c = server.client();
  EXPECT_TRUE(body_of(c.Get("/v1/videos"))["data"].empty());
  EXPECT_EQ(submit(c, kSmallJob)["status"], "queued");
}

// Idle connections and clients sending their headers a byte at a time held every one of
// httplib's 8 threads: /health waited seconds or timed out, and SIGTERM waited for the clients.
TEST(Serve, IdleAndSlowClientsNeitherStallHealthNorHoldTheExit) {
  ServeProcess server("slow-clients");
  std::vector<int> idle, slow;
  for (int i = 0; i < 16; ++i) idle.push_back(connect_to(server.port()));
  for (int i = 0; i < 64; ++i)
    slow.push_back(connect_to(server.port(), "GET /health HTTP/1.1\r\n"));
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    while (trickling) {
      for (int fd : slow) ::send(fd, "X", 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(300ms);
    }
  });
  std::this_thread::sleep_for(500ms);
  auto c = server.client();
  c.set_read_timeout(2s);
  const auto asked = std::chrono::steady_clock::now();
  auto health = c.Get("/health");
  EXPECT_TRUE(health && health->status == 200) << (health ? health->body : "no answer");
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);
  const auto terminated = std::chrono::steady_clock::now();
  EXPECT_EQ(server.terminate(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - terminated, 5s) << "the slow clients held the exit";
  trickling = false;
  trickle.join();
  for (int fd : idle) ::close(fd);
  for (int fd : slow) ::close(fd);
}

// A second signal quits without waiting for the running job, but the server's files still go:
// they used to stay behind, completed videos and work files alike.
// A second signal of another kind (SIGHUP after SIGTERM) quits the same way, by that signal.
TEST(Serve, ASecondSignalQuitsAtOnceAndStillRemovesTheServersFiles) {
  for (const int second : {SIGTERM, SIGHUP}) {
    ServeProcess server(str_cat("second-signal-", second));
    auto c = server.client();
    const std::string done = submit(c, kSmallJob)["id"];
    ASSERT_EQ(wait_for_end(c, done)["status"], "completed");
    const std::string running = submit(c, kLongJob)["id"];
    wait_for_status(c, running, "in_progress");
    // An idle connection keeps the orderly stop busy for a second: the second signal comes first.
    const int idle = connect_to(server.port());
    std::this_thread::sleep_for(100ms);  // until a thread serves it
    const auto start = std::chrono::steady_clock::now();
    // 300 ms: a repeat within 200 ms is taken as the first signal's echo (GNU timeout's).
    EXPECT_EQ(server.terminate_twice(300ms, SIGTERM, second), second);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_TRUE(everything_in(server.output_dir()).empty()) << second;
    ::close(idle);
  }
}

TEST(Serve, FinishedVideosGoAfterTheRetention) {
  ServeProcess server("retention", {"--retention", "1"});
  auto c = server.client();
  const std::string id = submit(c, kSmallJob)["id"];
  ASSERT_EQ(wait_for_end(c, id)["status"], "completed");
  for (int i = 0; i < 300 && c.Get("/v1/videos/" + id)->status == 200; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  expect_error(c.Get("/v1/videos/" + id), 404, "video_id", "an expired video");
  EXPECT_TRUE(files_in(server.output_dir()).empty());
}

// Runs a shell command, returns its stdout.
std::string shell(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out;
}

TEST(Serve, CurlDrivesTheWholeLifecycle) {
  ServeProcess server("curl", {"--api-key", "sk-curl"});
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string curl = "curl -sS -H 'Authorization: Bearer sk-curl' ";
  const std::string base = curl + url;
  const json queued = json::parse(
      shell(base + "/v1/videos -H 'Content-Type: application/json' -d '" + kSmallJob.dump() + "'"));
  const std::string id = queued.at("id");
  json job;
  for (int i = 0; i < 1000; ++i) {
    job = json::parse(shell(base + "/v1/videos/" + id));
    if (job["status"] == "completed") break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(job["status"], "completed") << job;
  const fs::path out = testing::temp_dir("serve-curl-download") / "video.mp4";
  shell(base + "/v1/videos/" + id + "/content -o " + out.string());
  expect_mp4(testing::file_bytes(out));
  // A form, as `curl -F` sends it.
  const json form =
      json::parse(shell(base + "/v1/videos -F prompt='A fox.' -F size=32x32 -F seconds=0.25 -F "
                               "num_inference_steps=2"));
  EXPECT_EQ(form["status"], "queued") << form;
  EXPECT_EQ(json::parse(shell(curl + "-X DELETE " + url + "/v1/videos/" + id))["deleted"], true);
  const std::string refused =
      shell("curl -sS -w ' %{http_code}' http://127.0.0.1:" + std::to_string(server.port()) +
            "/v1/videos");
  EXPECT_NE(refused.find("invalid_api_key"), std::string::npos) << refused;
  EXPECT_NE(refused.find(" 401"), std::string::npos) << refused;
  EXPECT_EQ(server.terminate(), 0);
  EXPECT_TRUE(everything_in(server.output_dir()).empty());
}

// The official openai package (client.videos.create, retrieve, download_content, delete, list),
// installed from PyPI into a virtual environment in the build folder the first time.
TEST(Serve, OpenaiPythonClientDrivesTheWholeLifecycle) {
  const fs::path venv = fs::path(FV_BINARY_DIR) / "serve-test-venv";
  const std::string python = (venv / "bin" / "python").string();
  if (std::system((python + " -c 'import openai' 2>/dev/null").c_str()) != 0) {
    const std::string install = "python3 -m venv " + venv.string() + " && " + python +
                                " -m pip install -q 'openai>=2' 2>&1";
    ASSERT_EQ(std::system(install.c_str()), 0) << "cannot install the openai package: " << install;
  }
  ServeProcess server("openai", {"--api-key", "sk-openai"});
  const fs::path out = testing::temp_dir("serve-openai-download") / "video.mp4";
  const testing::CliRun r{0, shell(python + " " + FV_SOURCE_DIR + "/tests/serve_openai_client.py " +
                                   "http://127.0.0.1:" + std::to_string(server.port()) +
                                   "/v1 sk-openai " + out.string() + " 2>&1")};
  EXPECT_NE(r.output.find("openai client: ok"), std::string::npos) << r.output;
  expect_mp4(testing::file_bytes(out));
  EXPECT_EQ(server.terminate(), 0);
  EXPECT_TRUE(everything_in(server.output_dir()).empty());
}

}  // namespace
}  // namespace fastvideo
