// A video as a folder of lossless PNG frames (frame_00000.png, ...) plus metadata.json holding
// fps, size and the generation metadata. The lossless output path.
#pragma once

#include <filesystem>

#include "io/video.h"
#include "io/video_metadata.h"

namespace fastvideo {

// Creates `folder` (which must not exist) and fills it.
void write_png_frames(const Video& video, const std::filesystem::path& folder,
                      const VideoMetadata& metadata);

// Reads frame_*.png in frame-number order; fps from metadata.json when present (16 otherwise).
Video read_png_frames(const std::filesystem::path& folder);

// The metadata entries of metadata.json (empty when the file is absent).
VideoMetadata read_png_frames_metadata(const std::filesystem::path& folder);

// Whether `folder` holds nothing but what write_png_frames writes: the guard against
// --overwrite deleting a folder of unrelated files. With `need_frames`, also at least one frame
// (an empty folder, or one whose only file vanished while it was read, is no video).
bool is_png_frame_folder(const std::filesystem::path& folder, bool need_frames = false);

}  // namespace fastvideo
