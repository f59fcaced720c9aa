// fastvideo compare A B: PSNR, SSIM and MS-SSIM per frame, over all frames and of the worst frame
// (MP4, PNG folder or Y4M); with --min-mean-psnr / --min-worst-psnr, a gate with exit status 1.
// Videos of different lengths always exit 1.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>

#include "commands.h"
#include "fastvideo/error.h"
#include "fastvideo/video_quality.h"

namespace fastvideo::cli {

namespace {

struct CompareFlags {
  std::string a, b;
  std::optional<double> min_mean_psnr, min_worst_psnr;
};

std::string bound_text(const std::optional<double>& bound) {
  return bound ? str_cat("min ", *bound) : "no min";
}

int run_compare(const CompareFlags& flags) {
  const VideoComparison c = compare_video_files(flags.a, flags.b);
  const bool ms = !c.ms_ssim.empty();
  auto ms_cell = [&](auto value) { return ms ? str_cat(value) : std::string("n/a"); };
  std::printf("%-8s %10s %10s %10s\n", "frame", "PSNR(dB)", "SSIM", "MS-SSIM");
  for (size_t i = 0; i < c.psnr.size(); ++i)
    std::printf("%-8zu %10.3f %10.6f %10s\n", i, c.psnr[i], c.ssim[i],
                ms ? str_cat(c.ms_ssim[i]).c_str() : "n/a");
  std::printf("%-8s %10.3f %10.6f %10s\n", "mean", c.mean_psnr, c.mean_ssim,
              ms_cell(c.mean_ms_ssim).c_str());
  std::printf("%-8s %10.3f %10.6f %10s\n", "worst", c.worst_psnr.value, c.worst_ssim.value,
              ms_cell(c.worst_ms_ssim.value).c_str());
  std::printf("%-8s %10d %10d %10s\n", "at frame", c.worst_psnr.frame, c.worst_ssim.frame,
              ms_cell(c.worst_ms_ssim.frame).c_str());
  if (!ms) std::printf("MS-SSIM not computed: %s\n", c.ms_ssim_skipped.c_str());
  // Frame i is compared with frame i whatever the rates: two rates mean two different clocks.
  if (std::abs(c.fps_a - c.fps_b) > 1e-9 * std::max(c.fps_a, c.fps_b)) {
    std::printf("note: %s plays at %g fps and %s at %g fps; frames were compared by index\n",
                flags.a.c_str(), c.fps_a, flags.b.c_str(), c.fps_b);
  }
  // Scores of the first frames say nothing of the frames one video lacks: a truncated video is a
  // failure, also for the gates that read the mean line (gpu-check's MS-SSIM gates).
  if (c.frames_a != c.frames_b) {
    std::printf("FAIL: %s has %d frames and %s has %d; the scores above cover the first %d only\n",
                flags.a.c_str(), c.frames_a, flags.b.c_str(), c.frames_b, c.frames);
    return 1;
  }
  if (!flags.min_mean_psnr && !flags.min_worst_psnr) return 0;
  const bool pass = c.mean_psnr >= flags.min_mean_psnr.value_or(-INFINITY) &&
                    c.worst_psnr.value >= flags.min_worst_psnr.value_or(-INFINITY);
  std::printf("PSNR %s: mean %.3f dB (%s), worst frame %d at %.3f dB (%s)\n",
              pass ? "PASS" : "FAIL", c.mean_psnr, bound_text(flags.min_mean_psnr).c_str(),
              c.worst_psnr.frame, c.worst_psnr.value, bound_text(flags.min_worst_psnr).c_str());
  return pass ? 0 : 1;
}

}  // namespace

Action add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "Compare two videos (PSNR, SSIM, MS-SSIM)");
  auto flags = std::make_shared<CompareFlags>();
  cmd->add_option("A", flags->a, "video: .mp4, .y4m or PNG folder")->required();
  cmd->add_option("B", flags->b, "video: .mp4, .y4m or PNG folder")->required();
  // NaN would make every comparison false: a gate that fails whatever the videos.
  const CLI::Validator number(
      [](std::string& value) {
        std::string lower = value;
        for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
        if (value.empty()) return std::string("is empty; give a number of dB");
        return lower.find("nan") == std::string::npos ? std::string() : "is not a number of dB";
      },
      "DB");
  cmd->add_option("--min-mean-psnr", flags->min_mean_psnr,
                  "exit status 1 when the PSNR over all frames (dB) is below this")
      ->check(number);
  cmd->add_option("--min-worst-psnr", flags->min_worst_psnr,
                  "exit status 1 when any frame's PSNR (dB) is below this")
      ->check(number);
  return [flags] { return run_compare(*flags); };
}

}  // namespace fastvideo::cli
