#include "io/y4m_video.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/excerpt.h"
#include "core/parse_number.h"
#include "fastvideo/error.h"
#include "io/text_file.h"

namespace fastvideo {
namespace {

constexpr const char* kMetadataTag = "XFASTVIDEO=";

uint8_t to_u8(double v) { return uint8_t(std::clamp(std::floor(v + 0.5), 0.0, 255.0)); }

// JFIF (full-range BT.601) RGB -> YCbCr.
void rgb_to_ycbcr(const uint8_t* rgb, uint8_t& y, uint8_t& cb, uint8_t& cr) {
  const double r = rgb[0], g = rgb[1], b = rgb[2];
  y = to_u8(0.299 * r + 0.587 * g + 0.114 * b);
  cb = to_u8(128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b);
  cr = to_u8(128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b);
}

// Inverse of rgb_to_ycbcr; limited-range input is first stretched to full range.
void ycbcr_to_rgb(double y, double cb, double cr, bool full_range, uint8_t* rgb) {
  if (!full_range) {
    y = (y - 16.0) * 255.0 / 219.0;
    cb = (cb - 128.0) * 255.0 / 224.0 + 128.0;
    cr = (cr - 128.0) * 255.0 / 224.0 + 128.0;
  }
  rgb[0] = to_u8(y + 1.402 * (cr - 128.0));
  rgb[1] = to_u8(y - 0.344136 * (cb - 128.0) - 0.714136 * (cr - 128.0));
  rgb[2] = to_u8(y + 1.772 * (cb - 128.0));
}

// fps as num:den, exact for integer rates and the NTSC family (24000:1001 ...).
std::pair<long long, long long> frame_rate_ratio(double fps) {
  for (long long den : {1LL, 1001LL, 1000LL}) {
    const long long num = std::llround(fps * double(den));
    if (std::abs(double(num) / double(den) - fps) <= 1e-9 * fps) return {num, den};
  }
  return {std::llround(fps * 1e6), 1000000};
}

std::string percent_decode(const std::string& text, const std::filesystem::path& file) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    FV_CHECK(i + 2 < text.size() && std::isxdigit((unsigned char)text[i + 1]) &&
                 std::isxdigit((unsigned char)text[i + 2]),
             file.string(), ": malformed %XX escape in the ", kMetadataTag, " header field");
    out += char(std::strtol(text.substr(i + 1, 2).c_str(), nullptr, 16));
    i += 2;
  }
  return out;
}

struct Y4mHeader {
  int width = 0, height = 0;
  double fps = 25.0;  // the YUV4MPEG2 default when F is absent
  std::string colorspace = "420jpeg";
  bool full_range = false;
  std::string metadata_json;
};

// The next line into `line` (false at the end of the file), at most 4096 bytes: a header or a
// frame line is short, and getline would hold a whole file without a newline (QA fuzzing: a 1 GiB
// file of zeros took 3.4 GB to be called "not a Y4M file").
bool next_line(std::istream& in, const std::filesystem::path& file, const char* what,
               std::string& line) {
  constexpr size_t kMaxLine = 4096;
  line.clear();
  char c = 0;
  bool any = false;
  while (in.get(c)) {
    any = true;
    if (c == '\n') return true;
    FV_CHECK(line.size() < kMaxLine, file.string(), ": ", what, " runs past ", kMaxLine,
             " bytes without a line end (not a Y4M file?)");
    line += c;
  }
  return any;
}

std::string read_line(std::istream& in, const std::filesystem::path& file, const char* what) {
  std::string line;
  if (!next_line(in, file, what, line)) fail(file.string(), ": truncated: missing ", what);
  return line;
}

Y4mHeader read_header(std::istream& in, const std::filesystem::path& file) {
  const std::string line = read_line(in, file, "the YUV4MPEG2 header");
  std::istringstream fields(line);
  std::string field;
  fields >> field;
  FV_CHECK(field == "YUV4MPEG2", file.string(),
           ": not a Y4M file (expected the header to start with 'YUV4MPEG2')");
  Y4mHeader h;
  std::string seen;  // the tags read so far: one of each
  while (fields >> field) {
    const char tag = field[0];
    const std::string value = field.substr(1);
    if (std::strchr("WHFCI", tag) != nullptr) {
      FV_CHECK(seen.find(tag) == std::string::npos, file.string(), ": the header gives the ", tag,
               " field twice");
      seen += tag;
    }
    if (tag == 'I') {
      // Fields of interlaced frames read as progressive rows would be a different picture.
      FV_CHECK(value == "p" || value == "?", file.string(), ": interlaced frames (I",
               excerpt(value), ") are not supported; expected Ip (progressive)");
    } else if (tag == 'W' || tag == 'H') {
      const auto n = parse_whole<int64_t>(value);
      FV_CHECK(n && *n > 0 && *n <= 65536, file.string(), ": bad size field '", excerpt(field),
               "'");
      (tag == 'W' ? h.width : h.height) = int(*n);
    } else if (tag == 'F') {
      long long num = 0, den = 0;
      const size_t colon = value.find(':');
      const auto whole = [](std::string_view text, long long& out) {
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        return ec == std::errc() && end == text.data() + text.size();
      };
      FV_CHECK(colon != std::string::npos && whole(std::string_view(value).substr(0, colon), num) &&
                   whole(std::string_view(value).substr(colon + 1), den) && num > 0 && den > 0 &&
                   num <= 1000000000 && den <= 1000000000 && double(num) / double(den) <= 1000,
               file.string(), ": bad frame rate field 'F", excerpt(value),
               "' (expected num:den, each at most 10^9, at most 1000 frames per second)");
      h.fps = double(num) / double(den);
    } else if (tag == 'C') {
      h.colorspace = value;
    } else if (field == "XCOLORRANGE=FULL") {
      h.full_range = true;
    } else if (field.starts_with(kMetadataTag)) {
      h.metadata_json = percent_decode(field.substr(std::string(kMetadataTag).size()), file);
    }
  }
  FV_CHECK(h.width > 0 && h.height > 0, file.string(), ": header has no valid W and H (got ",
           h.width, "x", h.height, ")");
  const bool supported = h.colorspace == "444" || h.colorspace == "420jpeg" ||
                         h.colorspace == "420mpeg2" || h.colorspace == "420paldv" ||
                         h.colorspace == "420";
  FV_CHECK(supported, file.string(), ": colour space C", excerpt(h.colorspace),
           " is not supported (expected C444 or a C420 variant, 8-bit)");
  return h;
}

}  // namespace

std::filesystem::path y4m_metadata_path(const std::filesystem::path& file) {
  return std::filesystem::path(file.string() + ".json");
}

void write_y4m(const Video& video, const std::filesystem::path& file,
               const VideoMetadata& metadata) {
  {
    const std::filesystem::path json = y4m_metadata_path(file);
    std::ofstream out(json, std::ios::binary);
    FV_CHECK(out.is_open(), json.string(), ": cannot open for writing");
    out << metadata.to_json() << "\n";
    out.close();
    FV_CHECK(out.good(), json.string(), ": write failed (disk full?)");
  }
  std::ofstream out(file, std::ios::binary);
  FV_CHECK(out.is_open(), file.string(), ": cannot open for writing");
  const auto [num, den] = frame_rate_ratio(video.fps);
  out << "YUV4MPEG2 W" << video.width << " H" << video.height << " F" << num << ":" << den
      << " Ip A1:1 C444 XCOLORRANGE=FULL\n";
  const size_t pixels = size_t(video.height) * video.width;
  std::vector<uint8_t> planes(pixels * 3);
  for (int f = 0; f < video.frames; ++f) {
    const uint8_t* rgb = video.frame(f);
    for (size_t i = 0; i < pixels; ++i)
      rgb_to_ycbcr(rgb + 3 * i, planes[i], planes[pixels + i], planes[2 * pixels + i]);
    out << "FRAME\n";
    out.write(reinterpret_cast<const char*>(planes.data()), std::streamsize(planes.size()));
  }
  out.close();
  FV_CHECK(out.good(), file.string(), ": write failed (disk full?)");
}

Video read_y4m(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  FV_CHECK(in.is_open(), file.string(), ": cannot open (missing or unreadable)");
  const Y4mHeader h = read_header(in, file);
  const bool is444 = h.colorspace == "444";
  const int cw = is444 ? h.width : (h.width + 1) / 2;
  const int ch = is444 ? h.height : (h.height + 1) / 2;
  const size_t luma = size_t(h.width) * h.height, chroma = size_t(cw) * ch;
  // A frame the file is too short to hold is refused before it is allocated (QA fuzzing: a
  // 37-byte file claiming 16384x16384 took 1 GB to say so).
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(file, ec);
  const std::streamoff at = in.tellg();
  const uintmax_t left =
      ec || at < 0 || uintmax_t(at) > file_bytes ? 0 : file_bytes - uintmax_t(at);
  FV_CHECK(left > 0, file.string(), ": no frames after the header");
  FV_CHECK(luma + 2 * chroma + 6 <= left, file.string(), ": frame 0 is truncated (a ", h.width, "x",
           h.height, " frame needs ", luma + 2 * chroma, " bytes, ", left, " follow the header)");
  std::vector<uint8_t> planes(luma + 2 * chroma);

  Video video;
  video.width = h.width;
  video.height = h.height;
  video.fps = h.fps;
  std::string frame_line;
  while (next_line(in, file, "a frame line", frame_line)) {
    // "FRAME", or "FRAME" and parameters after a space (QA fuzzing: "FRAMEX" passed).
    FV_CHECK(frame_line.starts_with("FRAME") && (frame_line.size() == 5 || frame_line[5] == ' '),
             file.string(), ": frame ", video.frames, " does not start with 'FRAME'");
    in.read(reinterpret_cast<char*>(planes.data()), std::streamsize(planes.size()));
    FV_CHECK(size_t(in.gcount()) == planes.size(), file.string(), ": frame ", video.frames,
             " is truncated (", in.gcount(), " of ", planes.size(), " bytes)");
    video.rgb.resize(video.rgb.size() + luma * 3);
    uint8_t* rgb = video.rgb.data() + video.rgb.size() - luma * 3;
    for (int y = 0; y < h.height; ++y) {
      for (int x = 0; x < h.width; ++x) {
        const size_t c = is444 ? size_t(y) * cw + x : size_t(y / 2) * cw + x / 2;
        ycbcr_to_rgb(planes[size_t(y) * h.width + x], planes[luma + c], planes[luma + chroma + c],
                     h.full_range, rgb + (size_t(y) * h.width + x) * 3);
      }
    }
    ++video.frames;
  }
  return video;
}

VideoMetadata read_y4m_metadata(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  FV_CHECK(in.is_open(), file.string(), ": cannot open (missing or unreadable)");
  const Y4mHeader h = read_header(in, file);
  const std::filesystem::path json = y4m_metadata_path(file);
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(json, ec))) {
    return VideoMetadata::from_json(read_text_file(json, "the video's metadata file"),
                                    json.string());
  }
  if (h.metadata_json.empty()) return {};
  return VideoMetadata::from_json(h.metadata_json, file.string());
}

}  // namespace fastvideo
