#include "io/png_frames.h"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fastvideo/error.h"
#include "fastvideo/log.h"
#include "io/json_file.h"

namespace fastvideo {
namespace {

constexpr const char* kMetadataFile = "metadata.json";

std::string frame_file_name(int index) {
  char name[32];
  std::snprintf(name, sizeof(name), "frame_%05d.png", index);
  return name;
}

// The frame number of "frame_<digits>.png", or nothing for any other name.
std::optional<long> frame_number(const std::string& name) {
  constexpr std::string_view prefix = "frame_", suffix = ".png";
  if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix))
    return std::nullopt;
  const std::string digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stol(digits);
}

void write_png(const std::filesystem::path& file, const uint8_t* rgb, int height, int width) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = uint32_t(width);
  image.height = uint32_t(height);
  image.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&image, file.c_str(), 0, rgb, width * 3, nullptr))
    fail(file.string(), ": cannot write PNG: ", image.message);
}

// Decodes one PNG to 8-bit RGB into `rgb`, returning its size.
std::pair<int, int> read_png(const std::filesystem::path& file, std::vector<uint8_t>& rgb) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, file.c_str()))
    fail(file.string(), ": cannot read PNG: ", image.message);
  image.format = PNG_FORMAT_RGB;
  // 16-bit samples without a gAMA or sRGB chunk are sRGB like 8-bit ones, not linear light (the
  // simplified API's default: value x 257 read back far too bright, 13.7 dB against itself).
  image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  // The header's size is checked against the file's before the frame is allocated: deflate
  // expands at most 1032:1, and a 1-bit pixel becomes 24 bits, so a larger frame cannot be in the
  // file (QA fuzzing: a 68-byte file claiming 1000000x1400 took 4.3 GB, then failed to decode).
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(file, ec);
  const uintmax_t frame_bytes = uintmax_t(image.width) * image.height * 3;
  if (ec || frame_bytes > file_bytes * 1032 * 24) {
    png_image_free(&image);
    fail(file.string(), ": its header claims a ", image.width, "x", image.height, " frame, which ",
         file_bytes, " bytes of PNG cannot hold; the file is damaged");
  }
  rgb.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, rgb.data(), 0, nullptr)) {
    png_image_free(&image);
    fail(file.string(), ": cannot decode PNG: ", image.message);
  }
  return {int(image.height), int(image.width)};
}

}  // namespace

void write_png_frames(const Video& video, const std::filesystem::path& folder,
                      const VideoMetadata& metadata) {
  std::error_code ec;
  if (!std::filesystem::create_directory(folder, ec))
    fail(folder.string(),
         ": cannot create folder: ", ec ? ec.message() : std::string("it already exists"));
  for (int f = 0; f < video.frames; ++f)
    write_png(folder / frame_file_name(f), video.frame(f), video.height, video.width);

  nlohmann::json info = {{"fps", video.fps},
                         {"frames", video.frames},
                         {"height", video.height},
                         {"width", video.width},
                         {"metadata", nlohmann::json::parse(metadata.to_json())}};
  const std::filesystem::path info_file = folder / kMetadataFile;
  std::ofstream out(info_file, std::ios::binary);
  out << info.dump(2) << "\n";
  out.close();
  FV_CHECK(out.good(), info_file.string(), ": cannot write");
}

Video read_png_frames(const std::filesystem::path& folder) {
  std::error_code ec;
  FV_CHECK(std::filesystem::is_directory(folder, ec), folder.string(),
           ": not a folder of PNG frames (missing or not a directory)");
  std::vector<std::pair<long, std::filesystem::path>> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (auto n = frame_number(entry.path().filename().string()); n && entry.is_regular_file())
      files.emplace_back(*n, entry.path());
  }
  FV_CHECK(!files.empty(), folder.string(), ": no frame_*.png files");
  std::sort(files.begin(), files.end());
  // Numbered without gaps (from 0 as written here, or 1 as FFmpeg's frame_%05d.png): a missing
  // frame would shift every later one.
  for (size_t i = 1; i < files.size(); ++i) {
    FV_CHECK(files[i].first != files[i - 1].first, folder.string(), ": ",
             files[i - 1].second.filename().string(), " and ", files[i].second.filename().string(),
             " are both frame ", files[i].first);
    FV_CHECK(files[i].first == files[i - 1].first + 1, folder.string(), ": ",
             frame_file_name(int(files[i - 1].first + 1)), " is missing between ",
             files[i - 1].second.filename().string(), " and ", files[i].second.filename().string(),
             " (frames are numbered without gaps)");
  }

  Video video;
  std::vector<uint8_t> rgb;
  for (const auto& [number, file] : files) {
    const auto [height, width] = read_png(file, rgb);
    if (video.frames == 0) {
      video.height = height;
      video.width = width;
    }
    FV_CHECK(height == video.height && width == video.width, file.string(), ": frame is ", width,
             "x", height, ", earlier frames are ", video.width, "x", video.height);
    video.rgb.insert(video.rgb.end(), rgb.begin(), rgb.end());
    ++video.frames;
  }
  if (std::filesystem::exists(folder / kMetadataFile)) {
    video.fps = JsonFile::load(folder / kMetadataFile).get_or<double>("fps", video.fps);
    FV_CHECK(video.fps > 0, (folder / kMetadataFile).string(), ": fps must be positive, got ",
             video.fps);
  } else {
    log::warning(folder.string(), ": no ", kMetadataFile, "; assuming ", video.fps, " fps");
  }
  return video;
}

VideoMetadata read_png_frames_metadata(const std::filesystem::path& folder) {
  const std::filesystem::path info_file = folder / kMetadataFile;
  if (!std::filesystem::exists(info_file)) return {};
  const JsonFile info = JsonFile::load(info_file);
  if (!info.has("metadata")) return {};
  return VideoMetadata::from_json(info.json()["metadata"].dump(), info_file.string());
}

bool is_png_frame_folder(const std::filesystem::path& folder, bool need_frames) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) return false;
  bool frames = false;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || (name != kMetadataFile && !frame_number(name))) return false;
    frames = frames || name != kMetadataFile;
  }
  return !ec && (frames || !need_frames);
}

}  // namespace fastvideo
