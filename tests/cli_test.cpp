// The `fastvideo` binary end to end on the tiny model, and every class of bad input: each exits
// non-zero with a message naming the culprit, and no partial output file remains.
#include <gtest/gtest.h>

#ifdef FASTVIDEO_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "cli_runner.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "io/video_reader.h"
#include "io/video_writer.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

namespace fs = std::filesystem;

using testing::CliRun;
using testing::copy_of_tiny_model;
using testing::expect_clean_failure;
using testing::generate_args;
using testing::run;

// Sets `key` of the JSON file `path` (in a copy of the tiny model) to `value`.
void set_json_key(const fs::path& path, const std::string& key, const nlohmann::json& value) {
  auto json = nlohmann::json::parse(std::ifstream(path));
  json[key] = value;
  std::ofstream(path) << json.dump();
}

TEST(Cli, GenerateWritesAVideoWithTheRequestedFramesAndSize) {
  fs::path out = testing::temp_dir("gen");
  CliRun r = run(generate_args(testing::tiny_model_dir(), out / "fox.y4m") +
                 " --num-frames 13 --height 48 --width 80");
  ASSERT_EQ(r.status, 0) << r.output;
  Video v = read_video(out / "fox.y4m");
  EXPECT_EQ(v.frames, 13);
  EXPECT_EQ(v.height, 48);
  EXPECT_EQ(v.width, 80);
#ifdef FASTVIDEO_HAVE_FFMPEG
  CliRun m = run(generate_args(testing::tiny_model_dir(), out / "fox.mp4") + " --log-json " +
                 (out / "log.json").string());
  ASSERT_EQ(m.status, 0) << m.output;
  Video mv = read_video(out / "fox.mp4");
  EXPECT_EQ(mv.frames, 9);
  EXPECT_EQ(mv.width, 64);
  std::ifstream log(out / "log.json");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("\"denoise\""), std::string::npos) << text;
  EXPECT_NE(text.find("peak_bytes"), std::string::npos) << text;
  const auto j = nlohmann::json::parse(text);
  EXPECT_GT(j.at("load").at("seconds").get<double>(), 0.0) << text;
  EXPECT_GT(j.at("load").at("peak_bytes").get<int64_t>(), 0) << text;
#endif
}

TEST(Cli, ExistingOutputIsNotOverwrittenUnlessAsked) {
  fs::path out = testing::temp_dir("exists");
  std::ofstream(out / "a.y4m") << "keep me";
  CliRun r = run(generate_args(testing::tiny_model_dir(), out / "a.y4m"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
  std::ifstream in(out / "a.y4m");
  std::string kept;
  std::getline(in, kept);
  EXPECT_EQ(kept, "keep me");
  EXPECT_EQ(run(generate_args(testing::tiny_model_dir(), out / "a.y4m") + " --overwrite").status,
            0);
}

TEST(Cli, MissingComponentFolderIsNamed) {
  fs::path model = copy_of_tiny_model("missing-component");
  fs::remove_all(model / "vae");
  fs::path out = testing::temp_dir("missing-component-out");
  expect_clean_failure(run(generate_args(model, out / "x.y4m")), "vae", out);
}

// FastVideo's quick start names a Hub repository; this engine loads local folders only, and says so
// (a helper's audit: the message spoke of model_index.json alone).
TEST(Cli, AHubRepositoryIdIsNamedAsSuch) {
  fs::path out = testing::temp_dir("hub-id-out");
  expect_clean_failure(run(generate_args("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", out / "x.y4m")),
                       "is a Hugging Face Hub id: this engine loads local folders only", out);
  const CliRun local = run(generate_args(out / "no-such-model", out / "x.y4m"));
  EXPECT_EQ(local.output.find("Hub id"), std::string::npos) << local.output;
}

// A command line CLI11 cannot parse is a user error like any other: exit 1 and a
// "fastvideo: error:" line naming the flag, not CLI11's own codes (109, 104, 114)
// (serve's own flags: serve_test, which builds only where the HTTP server does).
TEST(Cli, AnUnparsableCommandLineExitsOneWithAnErrorLineNamingTheFlag) {
  for (const auto& [args, culprit] : std::vector<std::pair<std::string, std::string>>{
           {"generate --bogus", "--bogus"},
           {"make-tiny-model x --seed abc", "--seed"},
           {"make-tiny-model x --seed -1", "--seed: is not a whole number in 0 .."},
           {"make-tiny-model x --seed 18446744073709551616", "--seed: is not a whole number"},
           {"generate --prompt a --prompt b", "--prompt"},
           {"nosuch", "'nosuch' is not a command; the commands are generate, inspect"},
           {"--nosuch", "'--nosuch' is not an option here (options follow the command)"}}) {
    const CliRun r = run(args);
    EXPECT_EQ(r.status, 1) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("fastvideo: error: ", 0), 0u) << args << ": " << r.output;
    EXPECT_NE(r.output.find(culprit), std::string::npos) << args << ": " << r.output;
  }
}

TEST(Cli, TruncatedSafetensorsIsNamed) {
  fs::path model = copy_of_tiny_model("truncated");
  fs::path shard = model / "vae" / "diffusion_pytorch_model.safetensors";
  fs::resize_file(shard, 100);
  fs::path out = testing::temp_dir("truncated-out");
  expect_clean_failure(run(generate_args(model, out / "x.y4m")), shard.filename().string(), out);
}

TEST(Cli, CorruptSafetensorsHeaderIsNamed) {
  fs::path model = copy_of_tiny_model("corrupt");
  fs::path shard = model / "vae" / "diffusion_pytorch_model.safetensors";
  std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(8);
  f.write("#!garbage", 9);
  f.close();
  fs::path out = testing::temp_dir("corrupt-out");
  expect_clean_failure(run(generate_args(model, out / "x.y4m")), shard.filename().string(), out);
}

// Rewrites the VAE file with `edit` applied to its tensor list.
template <class Edit>
void rewrite_vae(const fs::path& model, Edit edit) {
  fs::path file = model / "vae" / "diffusion_pytorch_model.safetensors";
  std::vector<std::pair<std::string, Tensor>> tensors;
  {
    auto st = SafetensorsFile::open(file);
    for (auto& name : st.names()) tensors.emplace_back(name, st.tensor(name).clone());
  }
  edit(tensors);
  fs::remove(file);
  write_safetensors(file, tensors);
}

TEST(Cli, TensorWithAWrongShapeIsNamedWithGotAndExpected) {
  fs::path model = copy_of_tiny_model("wrong-shape");
  rewrite_vae(model, [](auto& tensors) {
    for (auto& [name, t] : tensors) {
      if (name == "decoder.conv_in.bias") t = Tensor::zeros({t.size(0) + 1}, DType::F32);
    }
  });
  fs::path out = testing::temp_dir("wrong-shape-out");
  CliRun r = run(generate_args(model, out / "x.y4m"));
  expect_clean_failure(r, "decoder.conv_in.bias", out);
  EXPECT_NE(r.output.find("expected"), std::string::npos) << r.output;
}

// A damaged checkpoint's NaN or Inf weight is named where it loads (the run failed at the first
// denoising step's NaN check, or in the VAE's frames, naming neither file nor tensor).
TEST(Cli, NonFiniteWeightIsNamedWithItsElement) {
  fs::path model = copy_of_tiny_model("nan-weight");
  rewrite_vae(model, [](auto& tensors) {
    for (auto& [name, t] : tensors) {
      if (name == "decoder.conv_in.bias") t.template data<float>()[3] = -INFINITY;
    }
  });
  fs::path out = testing::temp_dir("nan-weight-out");
  CliRun r = run(generate_args(model, out / "x.y4m"));
  expect_clean_failure(r, "diffusion_pytorch_model.safetensors: tensor decoder.conv_in.bias", out);
  EXPECT_NE(r.output.find("holds NaN or Inf (element 3 of "), std::string::npos) << r.output;
}

// inspect --check finds what loading would, without generating: a wrong shape and a NaN weight,
// each named (plain inspect reads configs and headers only, and passes both).
TEST(Cli, InspectCheckFindsWhatLoadingWould) {
  const CliRun good = run("inspect --check " + testing::tiny_model_dir().string());
  ASSERT_EQ(good.status, 0) << good.output;
  EXPECT_NE(good.output.find("transformer: "), std::string::npos) << good.output;
  EXPECT_NE(good.output.find("check passed"), std::string::npos) << good.output;

  fs::path shape = copy_of_tiny_model("check-shape");
  rewrite_vae(shape, [](auto& tensors) {
    for (auto& [name, t] : tensors) {
      if (name == "decoder.conv_in.bias") t = Tensor::zeros({t.size(0) + 1}, DType::F32);
    }
  });
  EXPECT_EQ(run("inspect " + shape.string()).status, 0);
  const CliRun wrong = run("inspect --check " + shape.string());
  EXPECT_EQ(wrong.status, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("tensor decoder.conv_in.bias has shape"), std::string::npos)
      << wrong.output;

  fs::path nan = copy_of_tiny_model("check-nan");
  rewrite_vae(nan, [](auto& tensors) {
    for (auto& [name, t] : tensors) {
      if (name == "decoder.conv_out.weight") t.template data<float>()[7] = NAN;
    }
  });
  const CliRun bad = run("inspect --check " + nan.string());
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("tensor decoder.conv_out.weight holds NaN or Inf (element 7 of"),
            std::string::npos)
      << bad.output;
  EXPECT_EQ(bad.output.find("check passed"), std::string::npos) << bad.output;
}

// Plain inspect still shows a checkpoint loading would refuse (an image branch here), then says
// why and exits 1 (it exited 0, and only generate found out).
TEST(Cli, InspectNamesAConfigLoadingWouldRefuse) {
  fs::path model = copy_of_tiny_model("inspect-i2v");
  set_json_key(model / "transformer" / "config.json", "image_dim", 1280);
  const CliRun r = run("inspect " + model.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("WanTransformer3DModel"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cannot be loaded by this engine"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'image_dim'"), std::string::npos) << r.output;
}

TEST(Cli, MissingTensorIsNamed) {
  fs::path model = copy_of_tiny_model("missing-tensor");
  rewrite_vae(model, [](auto& tensors) {
    std::erase_if(tensors, [](auto& p) { return p.first == "decoder.conv_out.weight"; });
  });
  fs::path out = testing::temp_dir("missing-tensor-out");
  expect_clean_failure(run(generate_args(model, out / "x.y4m")), "decoder.conv_out.weight", out);
}

TEST(Cli, MalformedConfigJsonIsNamed) {
  fs::path model = copy_of_tiny_model("bad-config");
  std::ofstream(model / "transformer" / "config.json") << "{\"num_layers\": 2,";
  fs::path out = testing::temp_dir("bad-config-out");
  expect_clean_failure(run(generate_args(model, out / "x.y4m")), "transformer/config.json", out);
}

// The key is named before anything is allocated, instead of memory growing until bad_alloc.
TEST(Cli, ConfigSizeBeyondItsBoundOrItsWeightsIsNamed) {
  fs::path model = copy_of_tiny_model("huge-layers");
  fs::path out = testing::temp_dir("huge-layers-out");
  const fs::path config = model / "transformer" / "config.json";
  set_json_key(config, "num_layers", 1'000'000'000);
  CliRun r = run(generate_args(model, out / "x.y4m"));
  expect_clean_failure(r, "key 'num_layers' has value 1000000000, expected 1 to ", out);
  EXPECT_EQ(r.status, 1) << r.output;
  set_json_key(config, "num_layers", 30);
  r = run(generate_args(model, out / "x.y4m"));
  expect_clean_failure(r, "the weights should hold 30 blocks blocks.N.", out);
  EXPECT_EQ(r.status, 1) << r.output;
}

TEST(Cli, MalformedYamlAndUnknownConfigKeysAreNamed) {
  fs::path dir = testing::temp_dir("yaml");
  fs::path out = testing::temp_dir("yaml-out");
  std::ofstream(dir / "bad.yaml") << "request:\n  prompt: [unclosed\n";
  expect_clean_failure(run("generate --config " + (dir / "bad.yaml").string() + " --output " +
                           (out / "x.y4m").string()),
                       "bad.yaml", out);
  std::ofstream(dir / "typo.yaml") << "request:\n  prompt: fox\n  sampling:\n    sed: 3\n";
  CliRun r = run("generate --model " + testing::tiny_model_dir().string() + " --config " +
                 (dir / "typo.yaml").string() + " --output " + (out / "x.y4m").string());
  expect_clean_failure(r, "request.sampling.sed", out);
  EXPECT_NE(r.output.find("seed"), std::string::npos) << "valid keys are listed:\n" << r.output;
  expect_clean_failure(
      run(generate_args(testing::tiny_model_dir(), out / "x.y4m") + " --request.sampling.bogus 1"),
      "request.sampling.bogus", out);
}

TEST(Cli, ConfigFileAndDottedOverridesReachTheRequest) {
  fs::path dir = testing::temp_dir("yaml-ok");
  std::ofstream(dir / "run.yaml") << "generator:\n  model_path: "
                                  << testing::tiny_model_dir().string()
                                  << "\nrequest:\n  prompt: a fox\n  sampling:\n    num_frames: 5\n"
                                     "    height: 32\n    width: 32\n    num_inference_steps: 2\n";
  CliRun r = run("generate --config " + (dir / "run.yaml").string() +
                 " --request.sampling.width 48 --output " + (dir / "v.y4m").string());
  ASSERT_EQ(r.status, 0) << r.output;
  Video v = read_video(dir / "v.y4m");
  EXPECT_EQ(v.frames, 5);
  EXPECT_EQ(v.height, 32);
  EXPECT_EQ(v.width, 48);
}

TEST(Cli, InvalidGateValueSizeAndFrameCountAreNamed) {
  fs::path out = testing::temp_dir("invalid-out");
  const std::string base = generate_args(testing::tiny_model_dir(), out / "x.y4m");
  expect_clean_failure(run(base, "FASTVIDEO_CFG_GATE_STEP=2"), "FASTVIDEO_CFG_GATE_STEP", out);
  // Numbers as written in full, as everywhere else: no leading blank, no hex float.
  expect_clean_failure(run(base, "FASTVIDEO_CFG_GATE_STEP=' 0.5'"), "FASTVIDEO_CFG_GATE_STEP", out);
  expect_clean_failure(run(base, "FASTVIDEO_CFG_GATE_STEP=0x1p-1"), "FASTVIDEO_CFG_GATE_STEP", out);
  // The request's cfg_gate_step wins over the variable, which is then named as not used.
  const CliRun over = run(base +
                              " --num-frames 5 --height 32 --width 32 --num-inference-steps 2 "
                              "--request.sampling.cfg_gate_step 1",
                          "FASTVIDEO_CFG_GATE_STEP=0.5");
  ASSERT_EQ(over.status, 0) << over.output;
  EXPECT_NE(over.output.find("FASTVIDEO_CFG_GATE_STEP=0.5 is set, but cfg_gate_step=1 takes "
                             "precedence; the variable is not used"),
            std::string::npos)
      << over.output;
  fs::remove(out / "x.y4m");
  fs::remove(out / "x.y4m.json");
  expect_clean_failure(run(base + " --height 50"), "height=50", out);
  expect_clean_failure(run(base + " --num-frames 8"), "num_frames=8", out);
}

// Several GPUs (issue 15) from the command line: what the CPU cannot do and values out of range are
// refused by name, exit status 1 and no file.
TEST(Cli, SeveralGpuFlagsAreCheckedByName) {
  fs::path out = testing::temp_dir("gpus-out");
  const std::string base =
      generate_args(testing::tiny_model_dir(), out / "x.y4m") + " --device cpu";
  expect_clean_failure(run(base + " --num-gpus 2"),
                       "num_gpus 2 with the device cpu: several GPUs need a GPU device", out);
  expect_clean_failure(run(base + " --use-fsdp-inference true"),
                       "use_fsdp_inference with the device cpu", out);
  expect_clean_failure(run(base + " --num-gpus 0"),
                       "key 'generator.engine.num_gpus' has value 0; expected a GPU count", out);
  expect_clean_failure(run(base + " --sp-size 2"),
                       "sp_size 2 with num_gpus 1: expected -1 (num_gpus) or 1 (sequence "
                       "parallelism over more GPUs needs num_gpus, --num-gpus)",
                       out);
  expect_clean_failure(run(base + " --num-gpus 4 --sp-size 3"),
                       "num_gpus 4 with sp_size 3: expected num_gpus = sp_size", out);
  // With one GPU no NCCL group is made: the timeout is said to do nothing, and the variable is
  // checked all the same.
  expect_clean_failure(run(base, "FASTVIDEO_NCCL_TIMEOUT_S=abc"), "FASTVIDEO_NCCL_TIMEOUT_S", out);
  // dist_timeout, where set, wins over the variable, which is then named as not used (not checked).
  const CliRun timeout =
      run(base + " --num-frames 5 --height 32 --width 32 --num-inference-steps 1 --dist-timeout 5",
          "FASTVIDEO_NCCL_TIMEOUT_S=abc");
  ASSERT_EQ(timeout.status, 0) << timeout.output;
  EXPECT_NE(timeout.output.find("dist_timeout 5 has no effect with num_gpus 1"), std::string::npos)
      << timeout.output;
  EXPECT_NE(timeout.output.find("FASTVIDEO_NCCL_TIMEOUT_S=abc is set, but dist_timeout 5 takes "
                                "precedence"),
            std::string::npos)
      << timeout.output;
}

TEST(Cli, UnwritableOutputPathIsNamedAndLeavesNothing) {
  fs::path dir = testing::temp_dir("unwritable");
  std::ofstream(dir / "file") << "x";  // a file where a directory should be
  CliRun r = run(generate_args(testing::tiny_model_dir(), dir / "file" / "x.y4m"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find((dir / "file").string() + " is a file, not a folder"), std::string::npos)
      << r.output;
  for (auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().filename(), "file");
}

// issue 3: --device cuda runs where a GPU exists; elsewhere it is refused before any work with a
// message saying why, exit status 1 and no file.
TEST(Cli, CudaDeviceGeneratesOnAGpuAndIsRefusedCleanlyWithoutOne) {
  fs::path out = testing::temp_dir("cuda-device");
  CliRun r = run(generate_args(testing::tiny_model_dir(), out / "fox.y4m") + " --device cuda");
#ifdef FASTVIDEO_HAVE_CUDA
  int gpus = 0;
  if (cudaGetDeviceCount(&gpus) == cudaSuccess && gpus > 0) {
    ASSERT_EQ(r.status, 0) << r.output;
    Video v = read_video(out / "fox.y4m");
    EXPECT_EQ(v.frames, 9);
    EXPECT_EQ(v.width, 64);
    return;
  }
  expect_clean_failure(r, "no CUDA GPU is available", out);
#else
  expect_clean_failure(r, "this build has no CUDA backend", out);
#endif
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("device 'cuda'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cpu"), std::string::npos) << "the message offers the CPU:\n" << r.output;
}

TEST(Cli, InspectAndCompareWork) {
  CliRun i = run("inspect " + testing::tiny_model_dir().string());
  ASSERT_EQ(i.status, 0) << i.output;
  EXPECT_NE(i.output.find("WanTransformer3DModel"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("BF16"), std::string::npos) << i.output;
  fs::path out = testing::temp_dir("compare");
  ASSERT_EQ(run(generate_args(testing::tiny_model_dir(), out / "a.y4m")).status, 0);
  ASSERT_EQ(run(generate_args(testing::tiny_model_dir(), out / "b")).status, 0);  // PNG folder
  CliRun c = run("compare " + (out / "a.y4m").string() + " " + (out / "b").string());
  ASSERT_EQ(c.status, 0) << c.output;
  EXPECT_NE(c.output.find("mean"), std::string::npos) << c.output;
}

// The line of `output` that starts with `label` ("" if none).
std::string row(const std::string& output, const std::string& label) {
  const size_t start = output.rfind("\n" + label + " ");
  if (start == std::string::npos) return "";
  return output.substr(start + 1, output.find('\n', start + 1) - start - 1);
}

// Frame 0 identical, frame 2 badly damaged (PNG folders: lossless): compare reports a finite mean
// PSNR and the worst frame, and --min-mean-psnr / --min-worst-psnr fail the run on them.
TEST(Cli, CompareReportsTheWorstFrameAndGatesOnIt) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> byte(0, 255), noise(-64, 64);
  Video a{3, 32, 32, 16.0, std::vector<uint8_t>(3 * 32 * 32 * 3)};
  for (auto& x : a.rgb) x = uint8_t(byte(rng));
  Video b = a;
  for (size_t i = 0; i < 32 * 32 * 3; ++i) {
    uint8_t& x = b.frame(2)[i];
    x = uint8_t(std::clamp(int(x) + noise(rng), 0, 255));
  }
  const fs::path dir = testing::temp_dir("compare-worst");
  write_video(a, dir / "a", {}, false);
  write_video(b, dir / "b", {}, false);
  const std::string videos = (dir / "a").string() + " " + (dir / "b").string();

  const CliRun report = run("compare " + videos);
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_NE(row(report.output, "0").find("inf"), std::string::npos) << report.output;
  const std::string mean = row(report.output, "mean");
  EXPECT_TRUE(!mean.empty() && mean.find("inf") == std::string::npos)
      << "an identical frame must not make the mean infinite:\n"
      << report.output;
  EXPECT_FALSE(row(report.output, "worst").empty()) << report.output;
  EXPECT_EQ(row(report.output, "at frame"), "at frame          2          2        n/a")
      << report.output;

  const std::string gates = " --min-mean-psnr 35 --min-worst-psnr 30";
  const CliRun damaged = run("compare " + videos + gates);
  EXPECT_EQ(damaged.status, 1) << damaged.output;
  EXPECT_NE(damaged.output.find("PSNR FAIL: mean "), std::string::npos) << damaged.output;
  EXPECT_NE(damaged.output.find("worst frame 2 at "), std::string::npos) << damaged.output;
  const CliRun same = run("compare " + (dir / "a").string() + " " + (dir / "a").string() + gates);
  EXPECT_EQ(same.status, 0) << same.output;
  EXPECT_NE(same.output.find("PSNR PASS: mean inf dB (min 35), worst frame 0 at inf dB (min 30)"),
            std::string::npos)
      << same.output;
  EXPECT_EQ(same.output.find("note: "), std::string::npos) << same.output;

  // Another frame rate is a note, not a failure: the frames are still compared by index.
  Video faster = a;
  faster.fps = 24.0;
  write_video(faster, dir / "faster", {}, false);
  const CliRun rates = run("compare " + (dir / "a").string() + " " + (dir / "faster").string());
  EXPECT_EQ(rates.status, 0) << rates.output;
  EXPECT_NE(rates.output.find("plays at 16 fps and " + (dir / "faster").string() + " at 24 fps"),
            std::string::npos)
      << rates.output;
}

// A video that lacks frames fails, with or without gates (QA audit: 9 frames against 1 passed a
// gate); a PNG folder with a frame missing is not read as a shorter video whose later frames
// each compare against the wrong one.
TEST(Cli, CompareFailsOnATruncatedVideoOrAGapInPngFrames) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> byte(0, 255);
  Video a{3, 32, 32, 16.0, std::vector<uint8_t>(3 * 32 * 32 * 3)};
  for (auto& x : a.rgb) x = uint8_t(byte(rng));
  Video first = a;
  first.frames = 1;
  first.rgb.resize(32 * 32 * 3);
  const fs::path dir = testing::temp_dir("compare-truncated");
  write_video(a, dir / "a", {}, false);
  write_video(first, dir / "first", {}, false);
  for (const std::string gates : {"", " --min-mean-psnr 10 --min-worst-psnr 5"}) {
    const CliRun r =
        run("compare " + (dir / "a").string() + " " + (dir / "first").string() + gates);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_TRUE(testing::contains(r.output, "has 3 frames and ")) << r.output;
    EXPECT_TRUE(testing::contains(r.output, "has 1; the scores above cover the first 1 only"))
        << r.output;
  }
  write_video(a, dir / "gap", {}, false);
  fs::remove(dir / "gap" / "frame_00001.png");
  const CliRun gap = run("compare " + (dir / "a").string() + " " + (dir / "gap").string());
  EXPECT_NE(gap.status, 0) << gap.output;
  EXPECT_TRUE(testing::contains(
      gap.output, "frame_00001.png is missing between frame_00000.png and frame_00002.png"))
      << gap.output;
}

TEST(Cli, InspectOrGenerateOnAFileOrASymlinkLoopIsAUserError) {
  const fs::path file = testing::tiny_model_dir() / "model_index.json";
  CliRun i = run("inspect " + file.string());
  EXPECT_EQ(i.status, 1) << i.output;
  EXPECT_NE(i.output.find(file.string() + ": is a file, expected a folder"), std::string::npos)
      << i.output;
  fs::path out = testing::temp_dir("model-file-out");
  CliRun g = run(generate_args(file, out / "x.y4m"));
  expect_clean_failure(g, file.string() + ": is a file, expected a folder", out);
  EXPECT_EQ(g.status, 1) << g.output;

  fs::path model = copy_of_tiny_model("loop");
  fs::remove_all(model / "transformer");
  fs::create_directory_symlink("transformer", model / "transformer");
  CliRun loop = run("inspect " + model.string());
  EXPECT_EQ(loop.status, 1) << loop.output;
  EXPECT_NE(
      loop.output.find((model / "transformer").string() + ": component folder cannot be opened"),
      std::string::npos)
      << loop.output;
}

TEST(Cli, AClassThisEngineDoesNotLoadIsNamedByInspectAndGenerate) {
  fs::path model = copy_of_tiny_model("wrong-class");
  set_json_key(model / "model_index.json", "vae", {"diffusers", "AutoencoderKLLTXVideo"});
  const std::string expected = "key 'vae' has class \"AutoencoderKLLTXVideo\"";
  CliRun i = run("inspect " + model.string());
  EXPECT_EQ(i.status, 1) << i.output;
  EXPECT_NE(i.output.find(expected), std::string::npos) << i.output;
  fs::path out = testing::temp_dir("wrong-class-out");
  expect_clean_failure(run(generate_args(model, out / "x.y4m")), expected, out);
  // Class names of the wrong JSON type, and components that are no [library, class] pair (QA
  // fuzzing: '_class_name: []' crashed inspect and generate).
  const auto edit = [&](const fs::path& file, const std::string& key, const nlohmann::json& value) {
    fs::path copy = copy_of_tiny_model("wrong-class-type");
    set_json_key(copy / file, key, value);
    return run("inspect " + copy.string());
  };
  for (const auto& [file, key, value, message] :
       std::vector<std::tuple<std::string, std::string, nlohmann::json, std::string>>{
           {"transformer/config.json", "_class_name", nlohmann::json::array(),
            "key '_class_name' has value [], expected a string"},
           {"scheduler/scheduler_config.json",
            "_class_name",
            {"UniPCMultistepScheduler"},
            "expected a string"},
           {"text_encoder/config.json", "architectures", nlohmann::json::array(),
            "key 'architectures' is an empty list"},
           {"model_index.json",
            "vae",
            {"diffusers"},
            "component vae is [\"diffusers\"], expected [library, class]"},
           {"model_index.json", "vae", "AutoencoderKLWan",
            "needs component vae, which is \"AutoencoderKLWan\"; expected [library, class]"}}) {
    const CliRun r = edit(file, key, value);
    EXPECT_EQ(r.status, 1) << file << " " << key << ": " << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << file << " " << key << ": " << r.output;
  }
  fs::path copy = copy_of_tiny_model("tokenizer-config-list");
  std::ofstream(copy / "tokenizer" / "tokenizer_config.json") << "[]";
  const CliRun list = run("inspect " + copy.string());
  EXPECT_NE(list.output.find("tokenizer_config.json: expected a JSON object, got []"),
            std::string::npos)
      << list.output;
}

// A tokenizer with pieces past the text encoder's embedding rows is refused before any prompt
// meets one (QA fuzzing: "a cat" ran, "a fox" failed naming no file).
TEST(Cli, ATokenizerLargerThanTheTextEncodersVocabularyIsNamed) {
  fs::path model = copy_of_tiny_model("tokenizer-vocab");
  set_json_key(model / "text_encoder" / "config.json", "vocab_size", 300);
  fs::path out = testing::temp_dir("tokenizer-vocab-out");
  expect_clean_failure(run(generate_args(model, out / "x.y4m")), "spiece.model: 384 pieces, but ",
                       out);
}

TEST(Cli, BackendsListsEveryAttentionBackendWithItsStatusAndWhy) {
  CliRun r = run("backends --device cpu");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* name :
       {"TORCH_SDPA", "FLASH_ATTN", "VIDEO_SPARSE_ATTN", "SAGE_ATTN", "SAGE_ATTN_THREE",
        "VMOBA_ATTN", "SLA_ATTN", "SAGE_SLA_ATTN", "SLIDING_TILE_ATTN", "nvfp4_fa4"}) {
    EXPECT_NE(r.output.find(std::string("\n") + name + " "), std::string::npos)
        << name << " is not listed:\n"
        << r.output;
  }
  for (const char* part : {"on the CPU: no GPU", "fp32 reference attention on the CPU",
                           "not in this version of fastvideo-cpp either", "Blackwell",
                           "to_gate_compress", "self TORCH_SDPA (automatic), cross TORCH_SDPA"}) {
    EXPECT_NE(r.output.find(part), std::string::npos) << "'" << part << "' missing:\n" << r.output;
  }
  // With no --device, this machine's GPU if it has one, else the CPU and why.
  CliRun here = run("backends");
  ASSERT_EQ(here.status, 0) << here.output;
  EXPECT_TRUE(here.output.find("no GPU") != std::string::npos ||
              here.output.find(", sm_") != std::string::npos)
      << here.output;
  // A selection that does not resolve still shows the table, and fails (QA audit: exit 0).
  CliRun env = run("backends --device cpu", "FASTVIDEO_ATTENTION_BACKEND=BOGUS");
  EXPECT_EQ(env.status, 1) << env.output;
  EXPECT_NE(env.output.find("unknown attention backend 'BOGUS'"), std::string::npos) << env.output;
  EXPECT_NE(env.output.find("\nTORCH_SDPA "), std::string::npos) << env.output;
  EXPECT_EQ(run("backends --device cpu --attention-backend NOPE").status, 1);
  EXPECT_NE(run("backends --device ''").output.find("--device: is empty"), std::string::npos);
}

TEST(Cli, AttentionBackendFromFlagEnvOrYamlFollowsTheSelectionRules) {
  fs::path out = testing::temp_dir("attention-out");
  const std::string base = generate_args(testing::tiny_model_dir(), out / "x.y4m") +
                           " --num-frames 5 --height 32 --width 32 --num-inference-steps 2";
  expect_clean_failure(run(base + " --attention-backend SAGE_ATTN_THREE"), "Blackwell", out);
  // On the CPU: "FLASH_ATTN needs a Hopper GPU" (CUDA build) or "no FLASH_ATTN kernel" (CPU build).
  expect_clean_failure(run(base + " --attention-backend FLASH_ATTN --device cpu"), "FLASH_ATTN",
                       out);
  CliRun unknown = run(base, "FASTVIDEO_ATTENTION_BACKEND=BOGUS");
  expect_clean_failure(unknown, "unknown attention backend 'BOGUS'", out);
  EXPECT_NE(unknown.output.find("SLIDING_TILE_ATTN"), std::string::npos) << unknown.output;
  // VMOBA_ATTN runs on the CPU only in this version (on a GPU it is refused for that first).
  expect_clean_failure(run(base + " --device cpu", "FASTVIDEO_ATTENTION_BACKEND=VMOBA_ATTN"),
                       "VMOBA_ATTN needs its config", out);

  fs::path dir = testing::temp_dir("attention-yaml");
  std::ofstream(dir / "run.yaml")
      << "generator:\n  pipeline:\n    experimental:\n      attention_backend: VMOBA_ATTN\n";
  expect_clean_failure(run(base + " --device cpu --config " + (dir / "run.yaml").string()),
                       "VMOBA_ATTN needs its config", out);

  // The flag beats the variable; the resolved names land in the file's metadata.
  // FASTVIDEO_ATTENTION_CONFIG, read by SLIDING_TILE_ATTN only, is named as ignored.
  CliRun ok = run(base + " --attention-backend torch_sdpa",
                  "FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN "
                  "FASTVIDEO_ATTENTION_CONFIG=/nonexistent/mask.json");
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("FASTVIDEO_ATTENTION_CONFIG=/nonexistent/mask.json is set, but the "
                           "self-attention backend is TORCH_SDPA"),
            std::string::npos)
      << ok.output;
  EXPECT_NE(ok.output.find("FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN is set, but the "
                           "attention_backend option (TORCH_SDPA) takes precedence"),
            std::string::npos)
      << ok.output;
  EXPECT_NE(ok.output.find("attention backends: self TORCH_SDPA"), std::string::npos)
      << "the resolved backends are logged:\n"
      << ok.output;
  const VideoMetadata metadata = read_video_metadata(out / "x.y4m");
  EXPECT_EQ(metadata.entries.at("attention_backend_self"), "TORCH_SDPA");
  EXPECT_EQ(metadata.entries.at("attention_backend_cross"), "TORCH_SDPA");

  // VSA runs on the CPU too; the tiny Wan model has no gate weights, so G = 0, said once.
  CliRun vsa =
      run(base + " --overwrite --device cpu", "FASTVIDEO_ATTENTION_BACKEND=VIDEO_SPARSE_ATTN");
  ASSERT_EQ(vsa.status, 0) << vsa.output;
  EXPECT_NE(vsa.output.find("no to_gate_compress weights, so VIDEO_SPARSE_ATTN runs with G = 0"),
            std::string::npos)
      << vsa.output;
  EXPECT_EQ(read_video_metadata(out / "x.y4m").entries.at("attention_backend_self"),
            "VIDEO_SPARSE_ATTN");

  // SLA on the CPU: the tiny video's 16 tokens per frame make one key block of 64, which
  // FastVideo's default topk_ratio 0.1 cannot select from; a ratio of 1 keeps it. No proj_l: 0.
  fs::remove(out / "x.y4m");
  fs::remove(out / "x.y4m.json");
  expect_clean_failure(run(base + " --device cpu --attention-backend SLA_ATTN"),
                       "keeps no key block of 1", out);
  expect_clean_failure(run(base + " --device cpu --SLA-topk-ratio 0.5"),
                       "SLA_topk_ratio=0.5 is set, but the self-attention backend is TORCH_SDPA",
                       out);
  expect_clean_failure(run(base + " --device cpu --attention-backend SLA_ATTN --SLA-topk-ratio 0"),
                       "outside (0, 1]", out);
  CliRun sla = run(base + " --device cpu --attention-backend SLA_ATTN --SLA-topk-ratio 1");
  ASSERT_EQ(sla.status, 0) << sla.output;
  EXPECT_NE(sla.output.find("SLA_ATTN runs with proj_l = 0"), std::string::npos) << sla.output;
  // Said once, however many models load (audit: each rank's and the CFG partner's said it again).
  fs::remove(out / "x.y4m");
  fs::remove(out / "x.y4m.json");
  CliRun ranks = run(base + " --device cpu --attention-backend SLA_ATTN --SLA-topk-ratio 1 " +
                         "--num-gpus 4 --sp-size 2 --use-fsdp-inference true",
                     "FASTVIDEO_CPU_RANKS=1");
  ASSERT_EQ(ranks.status, 0) << ranks.output;
  const size_t first = ranks.output.find("runs with proj_l = 0");
  EXPECT_TRUE(first != std::string::npos &&
              ranks.output.find("runs with proj_l = 0", first + 1) == std::string::npos)
      << ranks.output;
  const VideoMetadata sla_metadata = read_video_metadata(out / "x.y4m");
  EXPECT_EQ(sla_metadata.entries.at("attention_backend_self"), "SLA_ATTN");
  EXPECT_EQ(sla_metadata.entries.at("SLA_topk_ratio"), "1");

  // SageSLA on the CPU: its default topk_ratio 0.5 keeps no block of the tiny video's one either.
  fs::remove(out / "x.y4m");
  fs::remove(out / "x.y4m.json");
  expect_clean_failure(run(base + " --device cpu --attention-backend SAGE_SLA_ATTN"),
                       "keeps no key block of 1", out);
  CliRun sage_sla =
      run(base + " --device cpu --attention-backend SAGE_SLA_ATTN --SLA-topk-ratio 1");
  ASSERT_EQ(sage_sla.status, 0) << sage_sla.output;
  EXPECT_NE(sage_sla.output.find("SAGE_SLA_ATTN runs with proj_l = 0"), std::string::npos)
      << sage_sla.output;
  const VideoMetadata sage_sla_metadata = read_video_metadata(out / "x.y4m");
  EXPECT_EQ(sage_sla_metadata.entries.at("attention_backend_self"), "SAGE_SLA_ATTN");
  EXPECT_EQ(sage_sla_metadata.entries.at("SLA_topk_ratio"), "1");
}

// `fastvideo bench`: --json is checked as the command line is read, before any timing, and written
// whole (a helper's audit: a missing folder was found only after the benchmark, and a full disk
// left an empty file); --fastwan's VSA_sparsity and backend are checked as generate checks them.
TEST(Cli, BenchChecksItsJsonFileAndFastWanSettingsBeforeTiming) {
  const fs::path dir = testing::temp_dir("bench-json");
  fs::create_symlink(dir / "target.json", dir / "link.json");
  for (const auto& [json, culprit] :
       {std::pair{(dir / "missing" / "b.json").string(), "does not exist"},
        std::pair{dir.string(), "is a folder; --json expects a file name"},
        std::pair{std::string("''"), "the path is empty"},
        std::pair{(dir / "link.json").string(), "is a symbolic link"}}) {
    const CliRun r = run("bench cpu --json " + json);
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(culprit), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("GFLOP/s"), std::string::npos) << "refused before timing:\n"
                                                           << r.output;
  }
  const CliRun ok = run("bench cpu --json " + (dir / "b.json").string());
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_NO_THROW(std::ignore = nlohmann::json::parse(std::ifstream(dir / "b.json")));
  EXPECT_FALSE(fs::exists(dir / "b.json.tmp"));

  // bench attention's SLA rows: each ratio in (0, 1], and only with an SLA backend among
  // --backends.
  const CliRun ratio = run("bench attention --sla-ratios 0.1,5");
  EXPECT_NE(ratio.status, 0);
  EXPECT_NE(ratio.output.find("--sla-ratios 5 is outside (0, 1]"), std::string::npos)
      << ratio.output;
  const CliRun idle = run("bench attention --backends FLASH_ATTN --sla-ratios 0.2");
  EXPECT_NE(idle.status, 0);
  EXPECT_NE(idle.output.find("--sla-ratios applies to the SLA_ATTN and SAGE_SLA_ATTN rows"),
            std::string::npos)
      << idle.output;

  const CliRun scheduler = run("bench denoise --device cpu --scheduler checkpoint");
  EXPECT_NE(scheduler.status, 0);
  EXPECT_NE(scheduler.output.find("give the checkpoint with --model"), std::string::npos)
      << scheduler.output;

  const std::string fastwan = "bench denoise --fastwan --device cpu --VSA-sparsity ";
  const CliRun range = run(fastwan + "1.5");
  EXPECT_NE(range.status, 0);
  EXPECT_NE(range.output.find("VSA_sparsity=1.5 is outside [0, 1)"), std::string::npos)
      << range.output;
  const CliRun flag = run(fastwan + "0.5 --attention-backend TORCH_SDPA");
  EXPECT_NE(flag.status, 0);
  EXPECT_NE(flag.output.find("VSA_sparsity=0.5 is set, but the self-attention backend is "
                             "TORCH_SDPA (the attention_backend option)"),
            std::string::npos)
      << flag.output;
  const CliRun env = run(fastwan + "0.5", "FASTVIDEO_ATTENTION_BACKEND=TORCH_SDPA");
  EXPECT_NE(env.status, 0);
  EXPECT_NE(env.output.find("TORCH_SDPA (FASTVIDEO_ATTENTION_BACKEND)"), std::string::npos)
      << "the variable is read under --fastwan too:\n"
      << env.output;
}

}  // namespace
}  // namespace fastvideo
