// Frame-by-frame similarity of two videos: PSNR, SSIM and MS-SSIM, the last exactly as FastVideo's
// regression tests compute it (fastvideo.md §7). `fastvideo compare` and the quality gates use it.
#pragma once

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace fastvideo {

struct VideoComparison {
  // The lowest score of one metric over the compared frames, and the first frame that has it.
  struct WorstFrame {
    int frame = -1;  // -1 when the metric was not computed
    double value = std::numeric_limits<double>::quiet_NaN();
  };

  int frames = 0;                  // frames compared: the shorter clip's count
  int frames_a = 0, frames_b = 0;  // each clip's own count
  double fps_a = 0, fps_b = 0;     // each clip's frame rate; frames are compared by index anyway
  std::vector<double> psnr, ssim, ms_ssim;
  // Over all compared frames. mean_psnr is 10·log10(255² / mean MSE), so an identical frame cannot
  // hide a damaged one: +inf only when every frame is identical. SSIM and MS-SSIM: plain means.
  double mean_psnr = 0, mean_ssim = 0, mean_ms_ssim = 0;
  // A gate on a mean should bound these too: one bad frame barely moves a mean over many.
  WorstFrame worst_psnr, worst_ssim, worst_ms_ssim;
  // Why ms_ssim is empty, mean_ms_ssim NaN and worst_ms_ssim unset (frames smaller than MS-SSIM's
  // 161 pixels); empty when MS-SSIM was computed.
  std::string ms_ssim_skipped;
};

// Reads two videos (MP4, Y4M or a PNG frame folder, chosen by the path) and compares their first
// min(frames) frames; different frame sizes are an Error naming both.
VideoComparison compare_video_files(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace fastvideo
