// YUV4MPEG2 (.y4m), the uncompressed format ffmpeg, mpv and x264 read directly.
//
// Written as 4:4:4 full-range BT.601 (JFIF) YCbCr: "C444 XCOLORRANGE=FULL", so no chroma is
// subsampled and ffmpeg decodes the same colours. The only loss is rounding YCbCr to 8 bits:
// every RGB channel reads back within ±1 of what was written (checked over all 2^24 colours when
// this was chosen). Use a PNG folder for bit-exact frames.
//
// Header: YUV4MPEG2 W<w> H<h> F<num>:<den> Ip A1:1 C444 XCOLORRANGE=FULL XFASTVIDEO=<metadata>
// where <metadata> is metadata.to_json() with '%', bytes <= 0x20 and bytes >= 0x7f written as
// %XX (a header field may contain neither spaces nor newlines).
#pragma once

#include <filesystem>

#include "io/video.h"
#include "io/video_metadata.h"

namespace fastvideo {

void write_y4m(const Video& video, const std::filesystem::path& file,
               const VideoMetadata& metadata);

// Reads C444 and the 4:2:0 variants (C420jpeg, C420mpeg2, C420paldv, C420; chroma upsampled by
// nearest neighbour), 8-bit only. Range from XCOLORRANGE (limited when absent, as ffmpeg does).
Video read_y4m(const std::filesystem::path& file);

// The XFASTVIDEO entries (empty when the header has none).
VideoMetadata read_y4m_metadata(const std::filesystem::path& file);

}  // namespace fastvideo
