// Saving and loading videos: MP4 (H.264), PNG frame folders and Y4M; metadata; atomic,
// non-clobbering writes (DESIGN §7, fastvideo.md §1.1).
#include <gtest/gtest.h>
#include <png.h>
#include <sched.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "fastvideo/error.h"
#include "guard_page_heap.h"
#include "io/mp4_video.h"
#include "io/video_reader.h"
#include "io/video_writer.h"
#include "quality/video_metrics.h"
#include "test_util.h"

namespace fastvideo {
namespace {
namespace fs = std::filesystem;

// A fresh empty folder, removed with everything in it at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ =
        fs::temp_directory_path() / ("fv_video_io_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path path_;
};

Video noise_video(int frames, int height, int width, double fps = 16.0) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> byte(0, 255);
  Video v{frames, height, width, fps, std::vector<uint8_t>(size_t(frames) * height * width * 3)};
  for (auto& x : v.rgb) x = uint8_t(byte(rng));
  return v;
}

// Random but smooth content (a coarse random grid, bilinearly upsampled, drifting over time):
// what a lossy codec should keep well.
Video smooth_video(int frames, int height, int width) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> u(0, 255);
  constexpr int kGrid = 6;
  std::vector<double> grid((kGrid + 1) * (kGrid + 1) * 3);
  for (auto& g : grid) g = u(rng);
  Video v{frames, height, width, 16.0, std::vector<uint8_t>(size_t(frames) * height * width * 3)};
  for (int f = 0; f < frames; ++f)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const double gy = double(y) / height * (kGrid - 1),
                     gx = (double(x) + 2.0 * f) / width * (kGrid - 1);
        const int iy = int(gy), ix = int(gx);
        const double fy = gy - iy, fx = gx - ix;
        for (int c = 0; c < 3; ++c) {
          auto at = [&](int yy, int xx) { return grid[(yy * (kGrid + 1) + xx) * 3 + c]; };
          const double value = (1 - fy) * ((1 - fx) * at(iy, ix) + fx * at(iy, ix + 1)) +
                               fy * ((1 - fx) * at(iy + 1, ix) + fx * at(iy + 1, ix + 1));
          v.frame(f)[(size_t(y) * width + x) * 3 + c] = uint8_t(std::lround(value));
        }
      }
  return v;
}

VideoMetadata sample_metadata() {
  return {{{"prompt", "A cat walks on the grass, realistic — 猫"},
           {"seed", "1024"},
           {"steps", "4"},
           {"guidance", "3"},
           {"scheduler", "FlowUniPCMultistepScheduler"},
           {"backend", "cpu"},
           {"model", "tiny"}}};
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The message of the Error `fn` throws ("" if it throws none).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

using testing::contains;

TEST(VideoFormat, ChosenByExtension) {
  EXPECT_EQ(video_format_for("out/video.mp4"), VideoFormat::Mp4);
  EXPECT_EQ(video_format_for("VIDEO.MP4"), VideoFormat::Mp4);
  EXPECT_EQ(video_format_for("clip.y4m"), VideoFormat::Y4m);
  EXPECT_EQ(video_format_for("frames"), VideoFormat::PngFolder);
  EXPECT_EQ(video_format_for("frames/"), VideoFormat::PngFolder);
}

TEST(VideoFormat, UnknownExtensionIsAnErrorListingTheChoices) {
  const std::string message = error_of([] { video_format_for("out/clip.avi"); });
  EXPECT_TRUE(contains(message, "out/clip.avi")) << message;
  EXPECT_TRUE(contains(message, ".mp4") && contains(message, ".y4m") && contains(message, "PNG"))
      << message;
  ScratchDir dir;
  EXPECT_THROW(write_video(noise_video(1, 8, 8), dir / "clip.gif", {}, false), Error);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(VideoIo, Mp4RoundTripKeepsFramesSizeFpsAndQuality) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir;
  const Video original = smooth_video(9, 64, 96);
  write_video(original, dir / "clip.mp4", sample_metadata(), false);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"clip.mp4"}) << "temporary left behind";

  const Video back = read_video(dir / "clip.mp4");
  ASSERT_EQ(back.frames, original.frames);
  ASSERT_EQ(back.height, original.height);
  ASSERT_EQ(back.width, original.width);
  EXPECT_DOUBLE_EQ(back.fps, 16.0);
  const VideoComparison r = compare_videos(original, back);
  for (int f = 0; f < r.frames; ++f) EXPECT_GT(r.psnr[f], 30.0) << "frame " << f;
}

// A stream damaged in its frame data is an error naming the file, not frames the decoder patched
// up (QA audit: compare scored a corrupted MP4 and exited 0). Garbage over the middle third of
// the file, where the coded frames are, at a few fixed places.
TEST(VideoIo, Mp4WithDamagedFrameDataIsAnError) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir;
  Video clip = noise_video(9, 64, 96);
  std::mt19937 rng(7);  // fixed content: the same file, so the same damage, on every run
  for (auto& x : clip.rgb) x = uint8_t(rng());
  write_video(clip, dir / "clip.mp4", sample_metadata(), false);
  const std::string bytes = testing::file_bytes(dir / "clip.mp4");
  int refused = 0, tried = 0;
  for (size_t at = bytes.size() / 3; at + 400 < bytes.size() * 2 / 3; at += bytes.size() / 24) {
    ++tried;
    std::string damaged = bytes;
    for (size_t i = 0; i < 400; ++i) damaged[at + i] = char(rng());
    std::ofstream(dir / "damaged.mp4", std::ios::binary) << damaged;
    const std::string e = testing::error_of([&] { read_video(dir / "damaged.mp4"); });
    refused += testing::contains(e, "damaged.mp4");  // an error naming the file
  }
  // Not every garbage run is detectable in H.264 (it may decode as other valid data). Here 6 of
  // 8 are refused; before frames with concealed errors were refused, 2 were.
  EXPECT_GE(refused * 2, tried) << "only " << refused << " of " << tried
                                << " damaged files were refused";
}

// A copy of `video` whose pixels end exactly at an unreadable page (when its byte count is a
// multiple of 16).
Video copy_ending_at_guard_page(const Video& video) {
  testing::GuardPageHeap heap;
  return video;
}

// The encoder sees the frames and nothing else: whatever lies after the RGB buffer (other bytes
// in the same allocation, or an unreadable page) changes no decoded pixel.
TEST(VideoIo, Mp4PixelsDependOnlyOnTheFrames) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir;
  const Video frames = noise_video(3, 32, 48);  // 13,824 bytes, a multiple of 16
  std::vector<Video> decoded;
  for (const uint8_t garbage : {0x00, 0xA5}) {
    Video followed = frames;
    followed.rgb.resize(frames.rgb.size() + 64, garbage);
    followed.rgb.resize(frames.rgb.size());  // keeps the garbage in the allocation, after the end
    const fs::path file = dir / str_cat("garbage_", int(garbage), ".mp4");
    write_video(followed, file, {}, false);
    decoded.push_back(read_video(file));
  }
  write_video(copy_ending_at_guard_page(frames), dir / "guarded.mp4", {}, false);
  decoded.push_back(read_video(dir / "guarded.mp4"));
  for (size_t i = 1; i < decoded.size(); ++i)
    EXPECT_TRUE(decoded[i].rgb == decoded[0].rgb) << "encoding " << i << " decodes differently";
}

// x264 chose its thread count from the CPUs the process may use, and its bytes follow the thread
// count: the same frames on one CPU and on all of them gave different files.
TEST(VideoIo, Mp4BytesDoNotDependOnTheCpusTheProcessMayUse) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir;
  const Video frames = smooth_video(17, 64, 96);
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  if (CPU_COUNT(&all) < 2) GTEST_SKIP() << "one CPU: nothing to compare against";
  write_video(frames, dir / "all_cpus.mp4", {}, false);
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  write_video(frames, dir / "one_cpu.mp4", {}, false);
  ASSERT_EQ(sched_setaffinity(0, sizeof(all), &all), 0);
  EXPECT_TRUE(testing::file_bytes(dir / "all_cpus.mp4") == testing::file_bytes(dir / "one_cpu.mp4"))
      << "the encoding changed with the CPUs";
}

// The decoder writes each frame inside the video it returns, also when a row (30 px = 90 bytes)
// is not a whole number of SIMD vectors.
TEST(VideoIo, Mp4ReaderWritesOnlyIntoItsFrames) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir;
  write_video(smooth_video(2, 16, 30), dir / "narrow.mp4", {}, false);
  const Video plain = read_video(dir / "narrow.mp4");
  Video guarded;
  {
    testing::GuardPageHeap heap;  // the first frame's 1,440 bytes end at an unreadable page
    guarded = read_video(dir / "narrow.mp4");
  }
  EXPECT_EQ(guarded.frames, 2);
  EXPECT_TRUE(guarded.rgb == plain.rgb);
}

TEST(VideoIo, Mp4KeepsFractionalFrameRate) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir;
  Video original = smooth_video(3, 32, 32);
  original.fps = 24000.0 / 1001.0;
  write_video(original, dir / "ntsc.mp4", {}, false);
  EXPECT_NEAR(read_video(dir / "ntsc.mp4").fps, original.fps, 1e-6);
}

TEST(VideoIo, Mp4StoresMetadataAsContainerTags) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir;
  const VideoMetadata metadata = sample_metadata();
  write_video(smooth_video(2, 32, 48), dir / "tagged.mp4", metadata, false);

  const auto tags = read_mp4_tags(dir / "tagged.mp4");
  ASSERT_TRUE(tags.contains("title"));
  EXPECT_EQ(tags.at("title"), metadata.entries.at("prompt"));
  ASSERT_TRUE(tags.contains("comment"));
  EXPECT_EQ(VideoMetadata::from_json(tags.at("comment"), "comment").entries, metadata.entries);
  ASSERT_TRUE(tags.contains("seed")) << "custom keys need movflags use_metadata_tags";
  EXPECT_EQ(tags.at("seed"), "1024");
  EXPECT_EQ(read_video_metadata(dir / "tagged.mp4").entries, metadata.entries);
}

// A tag is a C string to libavformat: a NUL byte would end it early, so it is refused, naming the
// entry, before any file is made.
TEST(VideoIo, Mp4RefusesANulByteInATagInsteadOfTruncatingIt) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  using namespace std::string_literals;
  ScratchDir dir;
  VideoMetadata in_value = sample_metadata();
  in_value.entries["prompt"] = "a fox\0 and what follows"s;
  std::string message =
      error_of([&] { write_video(smooth_video(1, 16, 16), dir / "nul.mp4", in_value, false); });
  EXPECT_TRUE(contains(message, "nul.mp4") && contains(message, "'prompt'") &&
              contains(message, "NUL byte at offset 5"))
      << message;

  VideoMetadata in_key = sample_metadata();
  in_key.entries["se\0ed"s] = "7";
  message = error_of([&] { write_video(smooth_video(1, 16, 16), dir / "nul.mp4", in_key, false); });
  EXPECT_TRUE(contains(message, "'se\\0ed'") && contains(message, "NUL byte")) << message;
  EXPECT_TRUE(dir.entries().empty());
}

TEST(VideoIo, Mp4NeedsEvenFrameSize) {
  if (!mp4_supported()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir;
  const std::string message =
      error_of([&] { write_video(noise_video(1, 33, 48), dir / "odd.mp4", {}, false); });
  EXPECT_TRUE(contains(message, "even") && contains(message, "48x33")) << message;
  EXPECT_TRUE(dir.entries().empty());
}

// A 16-bit RGB PNG of `rgb` (8-bit values x 257), without a gAMA or sRGB chunk, as NumPy/PIL
// tools write them; through libpng's own writer.
void write_png16(const fs::path& file, int height, int width, const uint8_t* rgb) {
  FILE* out = std::fopen(file.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, out);
  png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 16, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  std::vector<uint8_t> row(size_t(width) * 6);
  for (int y = 0; y < height; ++y) {
    for (int i = 0; i < width * 3; ++i) {
      row[size_t(2 * i)] = rgb[size_t(y * width * 3 + i)];  // big-endian v * 257: both bytes v
      row[size_t(2 * i + 1)] = rgb[size_t(y * width * 3 + i)];
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(out);
}

// QA audit: libpng's simplified reader took such 16-bit samples for linear light, so the same
// picture at 16 bits compared at 13.7 dB against its 8-bit self.
TEST(VideoIo, SixteenBitPngFramesReadAsTheirEightBitValues) {
  ScratchDir dir;
  const Video original = noise_video(2, 9, 7, 16.0);
  fs::create_directories(dir / "deep");
  for (int f = 0; f < original.frames; ++f) {
    char name[32];
    std::snprintf(name, sizeof(name), "frame_%05d.png", f);
    write_png16(dir / "deep" / name, original.height, original.width, original.frame(f));
  }
  const Video back = read_video(dir / "deep");
  EXPECT_EQ(back.frames, 2);
  EXPECT_TRUE(back.rgb == original.rgb) << "16-bit samples were not read as sRGB";
}

TEST(VideoIo, PngFolderRoundTripIsLossless) {
  ScratchDir dir;
  const Video original = noise_video(3, 17, 23, 12.5);
  write_video(original, dir / "frames/", sample_metadata(), false);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"frames"}) << "temporary left behind";
  EXPECT_TRUE(fs::exists(dir / "frames/frame_00000.png"));
  EXPECT_TRUE(fs::exists(dir / "frames/frame_00002.png"));
  EXPECT_TRUE(fs::exists(dir / "frames/metadata.json"));

  const Video back = read_video(dir / "frames");
  EXPECT_EQ(back.frames, 3);
  EXPECT_EQ(back.height, 17);
  EXPECT_EQ(back.width, 23);
  EXPECT_DOUBLE_EQ(back.fps, 12.5);
  EXPECT_TRUE(back.rgb == original.rgb) << "PNG frames must be bit-exact";
  EXPECT_EQ(read_video_metadata(dir / "frames").entries, sample_metadata().entries);
}

TEST(VideoIo, Y4mRoundTripIsWithinOneLevel) {
  ScratchDir dir;
  const Video original = noise_video(2, 19, 30, 24000.0 / 1001.0);
  write_video(original, dir / "clip.y4m", sample_metadata(), false);
  EXPECT_EQ(read_bytes(dir / "clip.y4m").rfind("YUV4MPEG2 W30 H19 F24000:1001 ", 0), 0u);

  const Video back = read_video(dir / "clip.y4m");
  ASSERT_EQ(back.frames, 2);
  ASSERT_EQ(back.height, 19);
  ASSERT_EQ(back.width, 30);
  EXPECT_DOUBLE_EQ(back.fps, original.fps);
  int max_diff = 0;
  for (size_t i = 0; i < back.rgb.size(); ++i)
    max_diff = std::max(max_diff, std::abs(int(back.rgb[i]) - int(original.rgb[i])));
  EXPECT_LE(max_diff, 1) << "documented Y4M tolerance is ±1 per channel";
  EXPECT_EQ(read_video_metadata(dir / "clip.y4m").entries, sample_metadata().entries);
}

// FFmpeg refuses a Y4M header line over 96 bytes, so the metadata is in clip.y4m.json beside the
// video, not in the header (a 959-byte header made every generated .y4m unreadable to ffmpeg).
// Replaced together with --overwrite; a file from before, with XFASTVIDEO in its header, still
// gives its metadata.
TEST(VideoIo, Y4mMetadataIsBesideTheVideoAndTheHeaderStaysShort) {
  ScratchDir dir;
  const Video video = noise_video(2, 480, 832, 16);
  write_video(video, dir / "clip.y4m", sample_metadata(), false);
  const std::string bytes = read_bytes(dir / "clip.y4m");
  const std::string header = bytes.substr(0, bytes.find('\n') + 1);
  EXPECT_EQ(header, "YUV4MPEG2 W832 H480 F16:1 Ip A1:1 C444 XCOLORRANGE=FULL\n");
  EXPECT_LE(header.size(), 96u);
  EXPECT_TRUE(fs::exists(dir / "clip.y4m.json"));
  VideoMetadata other;
  other.entries["prompt"] = "another";
  write_video(video, dir / "clip.y4m", other, true);
  EXPECT_EQ(read_video_metadata(dir / "clip.y4m").entries, other.entries);
  // The old form: the metadata percent-encoded in the header, no file beside it.
  fs::remove(dir / "clip.y4m.json");
  std::ofstream(dir / "old.y4m", std::ios::binary)
      << "YUV4MPEG2 W2 H2 F16:1 Ip A1:1 C444 XCOLORRANGE=FULL "
         "XFASTVIDEO={\"prompt\":%20\"a%20fox\"}\n"
      << "FRAME\n"
      << std::string(12, '\0');
  EXPECT_EQ(read_video_metadata(dir / "old.y4m").entries.at("prompt"), "a fox");
}

// Header fields this reader would misread are refused by name (QA audit): interlaced frames, a
// field given twice, a frame rate past any video's.
TEST(VideoIo, Y4mHeadersItWouldMisreadAreRefused) {
  ScratchDir dir;
  for (const auto& [header, message] : std::vector<std::pair<std::string, std::string>>{
           {"YUV4MPEG2 W2 H2 F16:1 It C444", "interlaced frames (It) are not supported"},
           {"YUV4MPEG2 W2 W4 H2 F16:1 C444", "gives the W field twice"},
           {"YUV4MPEG2 W2 H2 F99999999999999999999:1 C444", "bad frame rate field"},
           {"YUV4MPEG2 W2 H2 F16:1junk C444", "bad frame rate field 'F16:1junk'"}}) {
    std::ofstream(dir / "h.y4m", std::ios::binary) << header << "\nFRAME\n"
                                                   << std::string(12, '\0');
    const std::string e = error_of([&] { read_video(dir / "h.y4m"); });
    EXPECT_TRUE(contains(e, "h.y4m") && contains(e, message)) << header << ": " << e;
  }
  std::ofstream(dir / "f.y4m", std::ios::binary) << "YUV4MPEG2 W2 H2 F16:1 C444\nFRAMEX\n"
                                                 << std::string(12, '\0');
  EXPECT_TRUE(contains(error_of([&] { read_video(dir / "f.y4m"); }),
                       "frame 0 does not start with 'FRAME'"));
  // A line is read up to 4096 bytes, not to the end of a file without newlines.
  std::ofstream(dir / "z.y4m", std::ios::binary) << std::string(10000, '\0');
  EXPECT_TRUE(contains(error_of([&] { read_video(dir / "z.y4m"); }),
                       "the YUV4MPEG2 header runs past 4096 bytes without a line end"));
}

// A header that claims a frame the file cannot hold is refused before the frame is allocated (QA
// fuzzing: 37 bytes of Y4M claiming 16384x16384 took 1 GB, 68 bytes of PNG claiming 1000000x1400
// took 4.3 GB).
TEST(VideoIo, AHeaderClaimingMoreThanTheFileHoldsIsRefused) {
  ScratchDir dir;
  std::ofstream(dir / "big.y4m", std::ios::binary) << "YUV4MPEG2 W16384 H16384 C444\nFRAME\nxx";
  const std::string y4m = error_of([&] { read_video(dir / "big.y4m"); });
  EXPECT_TRUE(contains(y4m, "big.y4m: frame 0 is truncated (a 16384x16384 frame needs")) << y4m;
  // A valid 8x8 PNG whose IHDR then claims a width of 1,000,000 (CRC fixed, so libpng reads it).
  write_video(noise_video(1, 8, 8), dir / "frames", {}, false);
  const fs::path png = dir / "frames" / "frame_00000.png";
  std::string bytes = read_bytes(png);
  ASSERT_EQ(bytes.substr(12, 4), "IHDR");
  const uint32_t width = 1000000;
  for (int i = 0; i < 4; ++i) bytes[size_t(16 + i)] = char(width >> (24 - 8 * i));
  const uint32_t crc = uint32_t(::crc32(0, reinterpret_cast<const Bytef*>(bytes.data() + 12), 17));
  for (int i = 0; i < 4; ++i) bytes[size_t(29 + i)] = char(crc >> (24 - 8 * i));
  std::ofstream(png, std::ios::binary | std::ios::trunc) << bytes;
  const std::string e = error_of([&] { read_video(dir / "frames"); });
  EXPECT_TRUE(contains(e, "frame_00000.png: its header claims a 1000000x8 frame")) << e;
}

TEST(VideoIo, ExistingFileIsKeptWithoutOverwriteAndReplacedWithIt) {
  ScratchDir dir;
  const fs::path out = dir / "clip.y4m";
  write_video(noise_video(1, 8, 8), out, {}, false);
  const std::string first = read_bytes(out);

  const std::string message = error_of([&] { write_video(noise_video(2, 8, 8), out, {}, false); });
  EXPECT_TRUE(contains(message, out.string()) && contains(message, "--overwrite")) << message;
  EXPECT_EQ(read_bytes(out), first);

  write_video(noise_video(2, 8, 8), out, {}, true);
  EXPECT_EQ(read_video(out).frames, 2);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"clip.y4m", "clip.y4m.json"}))
      << "temporary left behind";
}

TEST(VideoIo, PngFolderIsReplacedOnlyWhenItHoldsFrames) {
  ScratchDir dir;
  write_video(noise_video(3, 8, 8), dir / "frames", {}, false);
  EXPECT_THROW(write_video(noise_video(1, 8, 8), dir / "frames", {}, false), Error);
  write_video(noise_video(1, 8, 8), dir / "frames", {}, true);
  EXPECT_EQ(read_video(dir / "frames").frames, 1) << "old frames must not survive";
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"frames"}) << "temporary left behind";

  fs::create_directories(dir / "documents");
  std::ofstream(dir / "documents/thesis.txt") << "precious";
  const std::string message =
      error_of([&] { write_video(noise_video(1, 8, 8), dir / "documents", {}, true); });
  EXPECT_TRUE(contains(message, "refusing")) << message;
  EXPECT_EQ(read_bytes(dir / "documents/thesis.txt"), "precious");
}

TEST(VideoIo, UnwritableDestinationFailsAndLeavesNothing) {
  ScratchDir dir;
  std::ofstream(dir / "not_a_dir") << "x";
  for (const char* name : {"not_a_dir/clip.y4m", "not_a_dir/frames", "not_a_dir/clip.mp4"}) {
    if (!mp4_supported() && contains(name, ".mp4")) continue;
    const std::string message =
        error_of([&] { write_video(noise_video(1, 8, 8), dir / name, {}, false); });
    EXPECT_TRUE(contains(message, (dir / "not_a_dir").string())) << message;
  }
  if (geteuid() != 0) {  // root writes through permission bits
    fs::create_directories(dir / "read_only");
    fs::permissions(dir / "read_only", fs::perms::owner_read | fs::perms::owner_exec);
    const std::string message =
        error_of([&] { write_video(noise_video(1, 8, 8), dir / "read_only/clip.y4m", {}, false); });
    EXPECT_TRUE(contains(message, "read_only")) << message;
    fs::permissions(dir / "read_only", fs::perms::owner_all);
    EXPECT_TRUE(fs::is_empty(dir / "read_only"));
  }
  EXPECT_EQ(read_bytes(dir / "not_a_dir"), "x");
}

TEST(VideoIo, MetadataWithANumberBeyondDoubleIsAnErrorNamingTheFile) {
  const std::string message =
      error_of([&] { VideoMetadata::from_json(R"({"seed": 1e400})", "clip.y4m"); });
  EXPECT_TRUE(contains(message, "clip.y4m") && contains(message, "1e400")) << message;
}

TEST(VideoIo, ReadErrorsNameTheFile) {
  ScratchDir dir;
  EXPECT_TRUE(contains(error_of([&] { read_video(dir / "missing.mp4"); }), "missing.mp4"));
  std::ofstream(dir / "garbage.y4m") << "not a y4m";
  EXPECT_TRUE(contains(error_of([&] { read_video(dir / "garbage.y4m"); }), "garbage.y4m"));
  write_video(noise_video(2, 8, 8), dir / "clip.y4m", {}, false);
  const std::string bytes = read_bytes(dir / "clip.y4m");
  std::ofstream(dir / "cut.y4m", std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  const std::string message = error_of([&] { read_video(dir / "cut.y4m"); });
  EXPECT_TRUE(contains(message, "cut.y4m") && contains(message, "truncated")) << message;
  if (mp4_supported()) {
    std::ofstream(dir / "garbage.mp4") << "definitely not an mp4 file";
    EXPECT_TRUE(contains(error_of([&] { read_video(dir / "garbage.mp4"); }), "garbage.mp4"));
  }
  // Reading, not writing: a .mkv is a file this reader cannot read (it said "output extension"),
  // and a symlink loop is one, not a missing file (QA audit).
  std::ofstream(dir / "clip.mkv") << "x";
  EXPECT_TRUE(contains(error_of([&] { read_video(dir / "clip.mkv"); }),
                       "clip.mkv: cannot read '.mkv' files; expected .mp4, .y4m or a folder"));
  std::filesystem::create_symlink("loop_b", dir / "loop_a");
  std::filesystem::create_symlink("loop_a", dir / "loop_b");
  const std::string loop = error_of([&] { read_video(dir / "loop_a"); });
  EXPECT_TRUE(contains(loop, "loop_a") && !contains(loop, "no such file")) << loop;
}

}  // namespace
}  // namespace fastvideo
