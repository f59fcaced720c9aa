// YUV4MPEG2 (.y4m), the uncompressed format ffmpeg, mpv and x264 read directly.
//
// Written as 4:4:4 full-range BT.601 (JFIF) YCbCr: "C444 XCOLORRANGE=FULL", so no chroma is
// subsampled and ffmpeg decodes the same colours. The only loss is rounding YCbCr to 8 bits:
// every RGB channel reads back within ±1 of what was written (checked over all 2^24 colours when
// this was chosen). Use a PNG folder for bit-exact frames.
//
// Header: YUV4MPEG2 W<w> H<h> F<num>:<den> Ip A1:1 C444 XCOLORRANGE=FULL, nothing more: FFmpeg
// refuses a header line longer than 96 bytes ("Header too large"), so the metadata goes beside
// the video, as metadata.to_json() in y4m_metadata_path(file). Files written before that carry it
// in the header as XFASTVIDEO=<metadata> ('%', bytes <= 0x20 and >= 0x7f as %XX), which
// read_y4m_metadata still reads.
#pragma once

#include <filesystem>

#include "io/video.h"
#include "io/video_metadata.h"

namespace fastvideo {

// The metadata file of a .y4m: "<file>.json" (fox.y4m -> fox.y4m.json).
std::filesystem::path y4m_metadata_path(const std::filesystem::path& file);

// Writes `file` and its metadata file.
void write_y4m(const Video& video, const std::filesystem::path& file,
               const VideoMetadata& metadata);

// Reads C444 and the 4:2:0 variants (C420jpeg, C420mpeg2, C420paldv, C420; chroma upsampled by
// nearest neighbour), 8-bit only. Range from XCOLORRANGE (limited when absent, as ffmpeg does).
Video read_y4m(const std::filesystem::path& file);

// The metadata file's entries, else the header's XFASTVIDEO entries (empty when neither is there).
VideoMetadata read_y4m_metadata(const std::filesystem::path& file);

}  // namespace fastvideo
