// fastvideo compare A B: PSNR, SSIM and MS-SSIM per frame and mean (MP4, PNG folder or Y4M).
#include <cstdio>

#include "commands.h"
#include "fastvideo/error.h"
#include "fastvideo/video_quality.h"

namespace fastvideo::cli {

namespace {

int run_compare(const std::string& a, const std::string& b) {
  const VideoComparison c = compare_video_files(a, b);
  const bool ms = !c.ms_ssim.empty();
  std::printf("%-6s %10s %10s %10s\n", "frame", "PSNR(dB)", "SSIM", "MS-SSIM");
  for (size_t i = 0; i < c.psnr.size(); ++i) {
    std::printf("%-6zu %10.3f %10.6f %10s\n", i, c.psnr[i], c.ssim[i],
                ms ? str_cat(c.ms_ssim[i]).c_str() : "n/a");
  }
  std::printf("%-6s %10.3f %10.6f %10s\n", "mean", c.mean_psnr, c.mean_ssim,
              ms ? str_cat(c.mean_ms_ssim).c_str() : "n/a");
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
