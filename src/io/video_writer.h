// Saving a generated video: MP4 (H.264, the default, like FastVideo), a PNG frame folder
// (lossless) or Y4M (uncompressed, ±1 per channel), chosen by the output path (DESIGN §7).
#pragma once

#include <filesystem>

#include "core/stop_flag.h"
#include "io/video.h"
#include "io/video_metadata.h"

namespace fastvideo {

enum class VideoFormat { Mp4, PngFolder, Y4m };

// ".mp4" -> Mp4, ".y4m" -> Y4m (any letter case); no extension -> PngFolder. Any other extension
// is an Error naming the path and the valid choices.
VideoFormat video_format_for(const std::filesystem::path& out);

// Whether `out` ends in a video file's extension (.mp4, .y4m, any letter case).
bool names_a_video_file(const std::filesystem::path& out);

// Whether an output at `target` in `format` may be written, checked before any work (and again by
// write_video): an existing one only with `overwrite` (the error names it as `named`), a folder
// only by a previous PNG-frame output, a file never by a folder; and for a .y4m, its metadata file
// (y4m_metadata_path) already there only with `overwrite`, never a folder.
void check_output_replaceable(const std::filesystem::path& target, VideoFormat format,
                              bool overwrite, const std::filesystem::path& named);

// Writes `video` to `out` in the format video_format_for(out) picks, with `metadata` inside.
// Atomic: the data goes to a hidden temporary next to `out` and is renamed over it only when
// complete; on any error the temporary is removed and `out` is untouched. Missing parent folders
// are created. An existing `out` (or a .y4m's metadata file) is an Error unless `overwrite`
// (checked before any work); an
// existing folder is replaced only if it holds nothing but a previous PNG-frame output. A stop
// requested on `stop` while writing discards the temporary and throws Cancelled.
void write_video(const Video& video, const std::filesystem::path& out,
                 const VideoMetadata& metadata, bool overwrite, const StopFlag* stop = nullptr);

}  // namespace fastvideo
