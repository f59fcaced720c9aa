// fastvideo compare A B: PSNR, SSIM and MS-SSIM per frame, over all frames and of the worst frame
// (MP4, PNG folder or Y4M).
#include <cstdio>

#include "commands.h"
#include "fastvideo/error.h"
#include "fastvideo/video_quality.h"

namespace fastvideo::cli {

namespace {

int run_compare(const std::string& a, const std::string& b) {
  const VideoComparison c = compare_video_files(a, b);
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
  return 0;
}

}  // namespace

Action add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "Compare two videos (PSNR, SSIM, MS-SSIM)");
  auto a = std::make_shared<std::string>(), b = std::make_shared<std::string>();
  cmd->add_option("A", *a, "video: .mp4, .y4m or PNG folder")->required();
  cmd->add_option("B", *b, "video: .mp4, .y4m or PNG folder")->required();
  return [a, b] { return run_compare(*a, *b); };
}

}  // namespace fastvideo::cli
