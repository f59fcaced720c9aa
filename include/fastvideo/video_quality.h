// Frame-by-frame similarity of two videos: PSNR, SSIM and MS-SSIM, the last exactly as FastVideo's
// regression tests compute it (fastvideo.md §7). `fastvideo compare` and the quality gates use it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fastvideo {

struct VideoComparison {
  int frames = 0;  // frames compared: the shorter clip's count
  std::vector<double> psnr, ssim, ms_ssim;
  // Means over frames; mean_psnr is +inf when any frame is identical.
  double mean_psnr = 0, mean_ssim = 0, mean_ms_ssim = 0;
  // Why ms_ssim is empty and mean_ms_ssim NaN (frames smaller than MS-SSIM's 161 pixels); empty
  // when MS-SSIM was computed.
  std::string ms_ssim_skipped;
};

// Reads two videos (MP4, Y4M or a PNG frame folder, chosen by the path) and compares their first
// min(frames) frames; different frame sizes are an Error naming both.
VideoComparison compare_video_files(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace fastvideo
