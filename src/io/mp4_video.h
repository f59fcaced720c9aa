// MP4 (H.264, yuv420p) through the FFmpeg libraries, like FastVideo's imageio.mimsave
// (fastvideo.md §1.1: libx264, yuv420p, quality 5 = crf 25). Built only with FFmpeg
// (FASTVIDEO_HAVE_FFMPEG); without it every function throws an Error saying how to get it.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "io/video.h"
#include "io/video_metadata.h"

namespace fastvideo {

// Whether this build can encode and decode MP4.
bool mp4_supported();

// Encodes to `file` (any name; the container is forced to MP4). Container tags: `title` = the
// prompt entry, `comment` = metadata.to_json(), and every entry under its own key
// (movflags use_metadata_tags keeps custom keys). Width and height must be even.
void write_mp4(const Video& video, const std::filesystem::path& file,
               const VideoMetadata& metadata);

// Decodes the best video stream to RGB24 (BT.601 unless the stream says otherwise); fps from the
// stream's frame rate.
Video read_mp4(const std::filesystem::path& file);

// All container-level tags as libavformat reports them (title, comment, encoder, ...).
std::map<std::string, std::string> read_mp4_tags(const std::filesystem::path& file);

}  // namespace fastvideo
