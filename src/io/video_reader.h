// Loading a video for comparison or as a reference: MP4 (any codec FFmpeg decodes), a PNG frame
// folder or Y4M, chosen by the path like video_format_for.
#pragma once

#include <filesystem>

#include "io/video.h"
#include "io/video_metadata.h"

namespace fastvideo {

// Decoded frames as 8-bit RGB. Errors name the file and the problem.
Video read_video(const std::filesystem::path& path);

// The generation metadata saved by write_video (empty when the file has none). For an MP4 not
// written by us, the container tags.
VideoMetadata read_video_metadata(const std::filesystem::path& path);

}  // namespace fastvideo
