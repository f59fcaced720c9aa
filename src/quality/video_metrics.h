// Frame-by-frame similarity of two videos: PSNR, SSIM and MS-SSIM, the last exactly as
// FastVideo's regression tests compute it (fastvideo.md §7: pytorch_msssim.ms_ssim on each
// frame as (1, 3, H, W) floats u8/255, data_range 1.0, clips truncated to the shorter one).
//
// SSIM: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, data range 1, "valid" convolution (no
// padding; a side shorter than 11 is left unsmoothed, as pytorch_msssim does), mean over the map
// then over R, G, B. MS-SSIM: 5 scales with weights [0.0448, 0.2856, 0.3001, 0.2363, 0.1333], 2×2
// average pooling between scales (odd sides zero-padded by one on both ends, pad counted in the
// average), relu of each scale's contrast-structure term and of the last SSIM.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fastvideo/video_quality.h"
#include "io/video.h"

namespace fastvideo {

// pytorch_msssim asserts min(H, W) > (11 - 1)·2^4 = 160 for its 5 scales. We keep that limit
// instead of using fewer scales: a number from fewer scales is not the MS-SSIM FastVideo's
// thresholds (0.93 ... 0.98) are about.
inline constexpr int kMsSsimMinSide = 161;

// Mean squared error over all bytes of two equally sized 8-bit frames.
double frame_mse(std::span<const uint8_t> a, std::span<const uint8_t> b);

// PSNR of 8-bit data in dB: 10·log10(255² / mse); +inf when mse is 0 (identical).
double psnr_from_mse(double mse);

// SSIM of two H×W×3 RGB frames.
double frame_ssim(std::span<const uint8_t> a, std::span<const uint8_t> b, int height, int width);

// MS-SSIM of two H×W×3 RGB frames; an Error when min(H, W) < kMsSsimMinSide.
double frame_ms_ssim(std::span<const uint8_t> a, std::span<const uint8_t> b, int height, int width);

// Compares the first min(a.frames, b.frames) frames; different frame sizes are an Error.
VideoComparison compare_videos(const Video& a, const Video& b);

}  // namespace fastvideo
