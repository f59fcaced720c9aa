// Video comparison metrics against pytorch_msssim (tests/data/metric_vectors.json, written by
// tools/reference/metric_vectors.py; fastvideo.md §7).
#include "quality/video_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fastvideo/error.h"
#include "io/json_file.h"
#include "test_util.h"

namespace fastvideo {
namespace {

// The integer-only frame recipes of metric_vectors.py, reproduced bit for bit.
uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t hashed(uint64_t seed, uint64_t stream, uint64_t i) {
  return splitmix64((seed << 40) + (stream << 36) + i);
}
int pattern(int f, int y, int x, int c) {
  return (x * (c + 1) * 3 + y * 2 + f * 5 + (x * y) / 64) % 256;
}

std::pair<Video, Video> make_pair(const std::string& recipe, uint64_t seed, int frames, int height,
                                  int width) {
  Video a{frames, height, width, 16.0, std::vector<uint8_t>(size_t(frames) * height * width * 3)};
  Video b = a;
  const int hb = (height + 7) / 8, wb = (width + 7) / 8;
  size_t i = 0;
  for (int f = 0; f < frames; ++f)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c, ++i) {
          int va = 0, vb = 0;
          if (recipe == "uniform_noise") {
            va = int(hashed(seed, 0, i) & 255);
            vb = int(hashed(seed, 1, i) & 255);
          } else if (recipe == "pattern_plus_noise") {
            va = pattern(f, y, x, c);
            vb = std::clamp(va + int(hashed(seed, 1, i) % 33) - 16, 0, 255);
          } else if (recipe == "pattern_dimmed") {
            va = pattern(f, y, x, c);
            vb = va * 3 / 4 + 16;
          } else if (recipe == "blocks") {
            const size_t cell = ((size_t(f) * hb + y / 8) * wb + x / 8) * 3 + c;
            va = int(hashed(seed, 0, cell) & 255);
            vb = std::clamp(va + int(hashed(seed, 1, i) % 11) - 5, 0, 255);
          } else {
            ADD_FAILURE() << "unknown recipe " << recipe;
          }
          a.rgb[i] = uint8_t(va);
          b.rgb[i] = uint8_t(vb);
        }
  return {a, b};
}

int64_t byte_sum(const Video& v) {
  int64_t s = 0;
  for (uint8_t x : v.rgb) s += x;
  return s;
}

Video random_video(int frames, int height, int width, std::mt19937& rng) {
  Video v{frames, height, width, 16.0, std::vector<uint8_t>(size_t(frames) * height * width * 3)};
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& x : v.rgb) x = uint8_t(byte(rng));
  return v;
}

TEST(VideoMetrics, MatchPytorchMsssimVectors) {
  const JsonFile vectors = JsonFile::load(testing::source_path("tests/data/metric_vectors.json"));
  const auto& cases = vectors.json()["cases"];
  ASSERT_GE(cases.size(), 4u);
  for (const auto& c : cases) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    auto [a, b] = make_pair(c["recipe"], c["seed"], c["frames"], c["height"], c["width"]);
    ASSERT_EQ(byte_sum(a), c["sum_a"].get<int64_t>()) << "recipe does not reproduce frames a";
    ASSERT_EQ(byte_sum(b), c["sum_b"].get<int64_t>()) << "recipe does not reproduce frames b";
    const VideoComparison r = compare_videos(a, b);
    ASSERT_EQ(r.frames, a.frames);
    double mean_mse = 0;
    for (int f = 0; f < r.frames; ++f) {
      EXPECT_NEAR(r.psnr[f], c["psnr"][f].get<double>(), 1e-4) << "frame " << f;
      EXPECT_NEAR(r.ssim[f], c["ssim"][f].get<double>(), 1e-4) << "frame " << f;
      mean_mse += 255.0 * 255.0 / std::pow(10.0, c["psnr"][f].get<double>() / 10) / r.frames;
    }
    EXPECT_NEAR(r.mean_psnr, 10 * std::log10(255.0 * 255.0 / mean_mse), 1e-4);
    if (c["ms_ssim"].is_null()) {
      EXPECT_TRUE(r.ms_ssim.empty());
      EXPECT_TRUE(std::isnan(r.mean_ms_ssim));
      EXPECT_EQ(r.worst_ms_ssim.frame, -1);
      EXPECT_TRUE(std::isnan(r.worst_ms_ssim.value));
      EXPECT_NE(r.ms_ssim_skipped.find("161"), std::string::npos) << r.ms_ssim_skipped;
    } else {
      ASSERT_EQ(r.ms_ssim.size(), size_t(r.frames));
      double mean = 0;
      for (int f = 0; f < r.frames; ++f) {
        EXPECT_NEAR(r.ms_ssim[f], c["ms_ssim"][f].get<double>(), 1e-4) << "frame " << f;
        mean += c["ms_ssim"][f].get<double>() / r.frames;
      }
      EXPECT_NEAR(r.mean_ms_ssim, mean, 1e-4);
      EXPECT_TRUE(r.ms_ssim_skipped.empty());
    }
  }
}

TEST(VideoMetrics, IdenticalVideosScoreOneAndInfinitePsnr) {
  std::mt19937 rng(std::random_device{}());
  const Video v = random_video(2, 176, 200, rng);
  const VideoComparison r = compare_videos(v, v);
  for (int f = 0; f < r.frames; ++f) {
    EXPECT_TRUE(std::isinf(r.psnr[f]) && r.psnr[f] > 0);
    EXPECT_NEAR(r.ssim[f], 1.0, 1e-12);
    EXPECT_NEAR(r.ms_ssim[f], 1.0, 1e-12);
  }
  EXPECT_TRUE(std::isinf(r.mean_psnr));
  EXPECT_NEAR(r.mean_ssim, 1.0, 1e-12);
  EXPECT_NEAR(r.mean_ms_ssim, 1.0, 1e-12);
  EXPECT_TRUE(std::isinf(r.worst_psnr.value));
  EXPECT_NEAR(r.worst_ssim.value, 1.0, 1e-12);
  EXPECT_NEAR(r.worst_ms_ssim.value, 1.0, 1e-12);
}

// Frame 0 identical (+inf dB on its own), frame 1 nearly so, frame 2 badly damaged (about 17 dB):
// the mean PSNR comes from the mean MSE, so it is finite and far below the gates' 35 dB, and the
// worst frame of every metric is frame 2.
TEST(VideoMetrics, AnIdenticalFrameDoesNotHideADamagedOne) {
  std::mt19937 rng(std::random_device{}());
  const Video a = random_video(3, 176, 176, rng);
  Video b = a;
  const size_t bytes = a.rgb.size() / 3;
  auto add_noise = [&](int frame, int amplitude) {
    std::uniform_int_distribution<int> noise(-amplitude, amplitude);
    for (size_t i = 0; i < bytes; ++i) {
      uint8_t& x = b.frame(frame)[i];
      x = uint8_t(std::clamp(int(x) + noise(rng), 0, 255));
    }
  };
  add_noise(1, 2);
  add_noise(2, 64);
  const VideoComparison r = compare_videos(a, b);
  ASSERT_TRUE(std::isinf(r.psnr[0]));
  double mean_mse = 0;
  for (int f = 0; f < 3; ++f) mean_mse += frame_mse({a.frame(f), bytes}, {b.frame(f), bytes}) / 3;
  EXPECT_NEAR(r.mean_psnr, psnr_from_mse(mean_mse), 1e-9);
  EXPECT_LT(r.mean_psnr, 25.0) << "one identical frame must not hide a damaged one";
  EXPECT_EQ(r.worst_psnr.frame, 2);
  EXPECT_EQ(r.worst_psnr.value, r.psnr[2]);
  EXPECT_LT(r.worst_psnr.value, 20.0);
  EXPECT_EQ(r.worst_ssim.frame, 2);
  EXPECT_EQ(r.worst_ssim.value, r.ssim[2]);
  EXPECT_EQ(r.worst_ms_ssim.frame, 2);
  EXPECT_EQ(r.worst_ms_ssim.value, r.ms_ssim[2]);
}

TEST(VideoMetrics, SimilarityFallsAsNoiseGrows) {
  std::mt19937 rng(std::random_device{}());
  const Video clean = random_video(1, 176, 176, rng);
  double last_psnr = INFINITY, last_ssim = 1.0, last_ms = 1.0;
  for (int amplitude : {2, 8, 32}) {
    Video noisy = clean;
    std::uniform_int_distribution<int> noise(-amplitude, amplitude);
    for (auto& x : noisy.rgb) x = uint8_t(std::clamp(int(x) + noise(rng), 0, 255));
    const VideoComparison r = compare_videos(clean, noisy);
    EXPECT_LT(r.mean_psnr, last_psnr) << "amplitude " << amplitude;
    EXPECT_LT(r.mean_ssim, last_ssim) << "amplitude " << amplitude;
    EXPECT_LT(r.mean_ms_ssim, last_ms) << "amplitude " << amplitude;
    last_psnr = r.mean_psnr;
    last_ssim = r.mean_ssim;
    last_ms = r.mean_ms_ssim;
  }
}

TEST(VideoMetrics, ComparesOnlyTheShorterClip) {
  std::mt19937 rng(std::random_device{}());
  const Video a = random_video(3, 32, 48, rng);
  Video b = a;
  b.frames = 2;
  b.rgb.resize(b.rgb.size() / 3 * 2);
  const VideoComparison r = compare_videos(a, b);
  EXPECT_EQ(r.frames, 2);
  EXPECT_EQ(r.psnr.size(), 2u);
  EXPECT_EQ(r.ssim.size(), 2u);
}

TEST(VideoMetrics, ReportsEachClipsFrameRate) {
  std::mt19937 rng(std::random_device{}());
  const Video a = random_video(2, 32, 48, rng);
  Video b = a;
  b.fps = 24.0;
  const VideoComparison r = compare_videos(a, b);
  EXPECT_EQ(r.fps_a, a.fps);
  EXPECT_EQ(r.fps_b, 24.0);
}

TEST(VideoMetrics, DifferentFrameSizesAreAnError) {
  std::mt19937 rng(std::random_device{}());
  const Video a = random_video(1, 32, 48, rng), b = random_video(1, 48, 32, rng);
  try {
    compare_videos(a, b);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("48x32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("32x48"), std::string::npos) << e.what();
  }
}

TEST(VideoMetrics, MsSsimRejectsFramesBelowMinimumSide) {
  std::mt19937 rng(std::random_device{}());
  const Video a = random_video(1, 160, 300, rng);
  const std::span<const uint8_t> f(a.rgb);
  EXPECT_THROW(frame_ms_ssim(f, f, 160, 300), Error);
  const Video b = random_video(1, 161, 300, rng);
  EXPECT_NEAR(frame_ms_ssim(b.rgb, b.rgb, 161, 300), 1.0, 1e-12);
}

}  // namespace
}  // namespace fastvideo
