#include "io/mp4_video.h"

#include "fastvideo/error.h"

#ifdef FASTVIDEO_HAVE_FFMPEG

#include <cmath>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <mutex>

#include "fastvideo/log.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace fastvideo {
namespace {

// Frame threads for x264: about what its automatic choice gives on a 16-core GPU machine (1.5 per
// core, capped by the lookahead), and harmless oversubscription on a small one.
constexpr int kX264Threads = 16;

// RAII owners for the FFmpeg objects; each deleter matches the allocation function.
struct OutputFormatDeleter {
  void operator()(AVFormatContext* ctx) const {
    if (ctx->pb != nullptr) avio_closep(&ctx->pb);
    avformat_free_context(ctx);
  }
};
struct InputFormatDeleter {
  void operator()(AVFormatContext* ctx) const { avformat_close_input(&ctx); }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* ctx) const { avcodec_free_context(&ctx); }
};
struct FrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct PacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct SwsDeleter {
  void operator()(SwsContext* ctx) const { sws_freeContext(ctx); }
};
using OutputFormat = std::unique_ptr<AVFormatContext, OutputFormatDeleter>;
using InputFormat = std::unique_ptr<AVFormatContext, InputFormatDeleter>;
using CodecContext = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using Frame = std::unique_ptr<AVFrame, FrameDeleter>;
using Packet = std::unique_ptr<AVPacket, PacketDeleter>;
using Sws = std::unique_ptr<SwsContext, SwsDeleter>;

// FFmpeg's lines go through our log, so its level and sink (log::set_threshold, set_sink) apply
// as they are when each line comes: errors as errors, warnings as warnings, and info (libx264's
// statistics) as debug; FFmpeg's own verbose and debug levels never.
void ffmpeg_log_line(void* context, int level, const char* format, va_list args) {
  if (level > AV_LOG_INFO) return;
  const log::Level ours = level <= AV_LOG_ERROR     ? log::Level::Error
                          : level <= AV_LOG_WARNING ? log::Level::Warning
                                                    : log::Level::Debug;
  if (ours < log::threshold()) return;
  static thread_local int print_prefix = 1;
  char line[1024];
  av_log_format_line2(context, level, format, args, line, sizeof(line), &print_prefix);
  std::string text = line;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (!text.empty()) log::write(ours, "FFmpeg: " + text);
}

void set_ffmpeg_log_level() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(ffmpeg_log_line); });
}

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

void check_av(int code, const std::filesystem::path& file, const char* what) {
  if (code < 0) fail(file.string(), ": ", what, " failed: ", av_error(code));
}

// A frame with buffers of its own, laid out as swscale expects of what it reads and writes: rows
// aligned for SIMD and padding after the last row (it moves whole vectors past a row's last
// pixel). Zeroed, so that what it reads beyond the picture is the same every time.
Frame allocate_frame(AVPixelFormat format, int width, int height,
                     const std::filesystem::path& file) {
  Frame frame(av_frame_alloc());
  FV_CHECK(frame != nullptr, file.string(), ": out of memory allocating a frame");
  frame->format = format;
  frame->width = width;
  frame->height = height;
  check_av(av_frame_get_buffer(frame.get(), 0), file, "allocating a frame");
  for (AVBufferRef* buffer : frame->buf)
    if (buffer != nullptr) std::memset(buffer->data, 0, buffer->size);
  return frame;
}

// libavformat takes tags as C strings, where a NUL byte would silently end the key or value.
void check_tags(const VideoMetadata& metadata, const std::string& name) {
  for (const auto& [key, value] : metadata.entries) {
    if (const size_t nul = key.find('\0'); nul != std::string::npos)
      fail(name, ": metadata key '", key.substr(0, nul), "\\0", key.substr(nul + 1),
           "' contains a NUL byte, which an MP4 tag cannot hold");
    if (const size_t nul = value.find('\0'); nul != std::string::npos)
      fail(name, ": metadata entry '", key, "' contains a NUL byte at offset ", nul,
           ", which an MP4 tag cannot hold (it would cut the value short)");
  }
}

// Sends every packet the encoder has ready to the muxer.
void drain_encoder(AVCodecContext* enc, AVFormatContext* mux, AVStream* stream,
                   const std::filesystem::path& file) {
  Packet packet(av_packet_alloc());
  FV_CHECK(packet != nullptr, file.string(), ": out of memory allocating a packet");
  for (;;) {
    const int rc = avcodec_receive_packet(enc, packet.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
    check_av(rc, file, "H.264 encoding");
    av_packet_rescale_ts(packet.get(), enc->time_base, stream->time_base);
    packet->stream_index = stream->index;
    check_av(av_interleaved_write_frame(mux, packet.get()), file, "writing a packet");
  }
}

}  // namespace

bool mp4_supported() { return true; }

void write_mp4(const Video& video, const std::filesystem::path& file,
               const VideoMetadata& metadata) {
  set_ffmpeg_log_level();
  const std::string name = file.string();
  FV_CHECK(video.width % 2 == 0 && video.height % 2 == 0, name,
           ": MP4 (yuv420p) needs even width and height, got ", video.width, "x", video.height,
           "; choose an even size, or save as .y4m or a PNG folder");
  check_tags(metadata, name);
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  FV_CHECK(
      codec != nullptr, name,
      ": this FFmpeg has no libx264 encoder; install FFmpeg with libx264, or save as .y4m or a "
      "PNG folder");

  AVFormatContext* raw_mux = nullptr;
  check_av(avformat_alloc_output_context2(&raw_mux, nullptr, "mp4", name.c_str()), file,
           "creating the MP4 muxer");
  OutputFormat mux(raw_mux);

  AVStream* stream = avformat_new_stream(mux.get(), nullptr);
  FV_CHECK(stream != nullptr, name, ": out of memory creating the video stream");
  CodecContext enc(avcodec_alloc_context3(codec));
  FV_CHECK(enc != nullptr, name, ": out of memory creating the encoder");

  // Frame i has pts i in a time base of 1/fps; av_d2q keeps 16 -> 16/1 and 23.976 -> 2997/125.
  const AVRational frame_rate = av_d2q(video.fps, 1000000);
  enc->width = video.width;
  enc->height = video.height;
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->framerate = frame_rate;
  enc->time_base = av_inv_q(frame_rate);
  // swscale's RGB->YUV default is BT.601 limited range; tag it so players do not guess BT.709.
  enc->color_range = AVCOL_RANGE_MPEG;
  enc->colorspace = AVCOL_SPC_SMPTE170M;
  if (mux->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  // fastvideo.md §1.1: imageio's default quality 5 maps to -crf 25; x264's default preset.
  av_opt_set(enc->priv_data, "preset", "medium", 0);
  av_opt_set(enc->priv_data, "crf", "25", 0);
  // The same frames must give the same file, wherever and whenever they are written:
  //  - x264's bytes depend on its thread count, which by default follows the CPUs this process
  //    may use (different files on different machines, under taskset, in the server);
  //  - its AVX-512 routines make the bytes depend on what its buffers held before (a process's
  //    second video differed from its first, from the same frames), so it stops at AVX2 there.
  enc->thread_count = kX264Threads;
  if (__builtin_cpu_supports("avx512f")) av_opt_set(enc->priv_data, "x264-params", "asm=AVX2", 0);
  check_av(avcodec_open2(enc.get(), codec, nullptr), file, "opening the libx264 encoder");
  check_av(avcodec_parameters_from_context(stream->codecpar, enc.get()), file,
           "configuring the video stream");
  stream->time_base = enc->time_base;
  stream->avg_frame_rate = frame_rate;

  // Tags: each entry under its own key, then title/comment for tools that read only those.
  for (const auto& [key, value] : metadata.entries)
    av_dict_set(&mux->metadata, key.c_str(), value.c_str(), 0);
  if (auto it = metadata.entries.find("prompt"); it != metadata.entries.end())
    av_dict_set(&mux->metadata, "title", it->second.c_str(), 0);
  av_dict_set(&mux->metadata, "comment", metadata.to_json().c_str(), 0);

  check_av(avio_open(&mux->pb, name.c_str(), AVIO_FLAG_WRITE), file, "opening for writing");
  AVDictionary* options = nullptr;
  // use_metadata_tags: without it the MP4 muxer silently drops keys it has no atom for.
  av_dict_set(&options, "movflags", "use_metadata_tags+faststart", 0);
  const int header_rc = avformat_write_header(mux.get(), &options);
  av_dict_free(&options);
  check_av(header_rc, file, "writing the MP4 header");

  // Each RGB frame is copied into `rgb` first: swscale reads past the end of the rows it is given,
  // and Video's frames have no padding after them.
  Frame rgb = allocate_frame(AV_PIX_FMT_RGB24, video.width, video.height, file);
  Frame frame = allocate_frame(enc->pix_fmt, video.width, video.height, file);
  frame->color_range = enc->color_range;
  frame->colorspace = enc->colorspace;
  // Plain bicubic is what the ffmpeg CLI behind imageio uses: the same YUV bytes as FastVideo's.
  Sws sws(sws_getContext(video.width, video.height, AV_PIX_FMT_RGB24, video.width, video.height,
                         AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  FV_CHECK(sws != nullptr, name, ": cannot create the RGB->YUV420P converter");

  for (int f = 0; f < video.frames; ++f) {
    check_av(av_frame_make_writable(frame.get()), file, "making a frame writable");
    av_image_copy_plane(rgb->data[0], rgb->linesize[0], video.frame(f), video.width * 3,
                        video.width * 3, video.height);
    sws_scale(sws.get(), rgb->data, rgb->linesize, 0, video.height, frame->data, frame->linesize);
    frame->pts = f;
    check_av(avcodec_send_frame(enc.get(), frame.get()), file, "H.264 encoding");
    drain_encoder(enc.get(), mux.get(), stream, file);
  }
  check_av(avcodec_send_frame(enc.get(), nullptr), file, "flushing the H.264 encoder");
  drain_encoder(enc.get(), mux.get(), stream, file);
  check_av(av_write_trailer(mux.get()), file, "finishing the MP4 file");
  check_av(avio_closep(&mux->pb), file, "closing");
}

namespace {

struct Decoder {
  InputFormat demux;
  CodecContext codec;
  int stream_index = -1;
};

Decoder open_decoder(const std::filesystem::path& file) {
  set_ffmpeg_log_level();
  const std::string name = file.string();
  Decoder d;
  AVFormatContext* raw = nullptr;
  check_av(avformat_open_input(&raw, name.c_str(), nullptr, nullptr), file, "opening");
  d.demux.reset(raw);
  check_av(avformat_find_stream_info(d.demux.get(), nullptr), file, "reading stream info");
  const AVCodec* codec = nullptr;
  d.stream_index = av_find_best_stream(d.demux.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  FV_CHECK(d.stream_index >= 0, name, ": no decodable video stream (", av_error(d.stream_index),
           ")");
  d.codec.reset(avcodec_alloc_context3(codec));
  FV_CHECK(d.codec != nullptr, name, ": out of memory creating the decoder");
  check_av(avcodec_parameters_to_context(d.codec.get(), d.demux->streams[d.stream_index]->codecpar),
           file, "configuring the decoder");
  check_av(avcodec_open2(d.codec.get(), codec, nullptr), file, "opening the decoder");
  return d;
}

// Decoded frames to RGB24: the converter and the padded frame it writes into (swscale writes whole
// vectors past a row's end, so never straight into Video's unpadded frames).
struct RgbConversion {
  Sws sws;
  Frame rgb;
};

// Appends one decoded frame to `video` as RGB24 with plain bilinear swscale, the conversion
// PyAV's to_ndarray("rgb24") (FastVideo's reader, fastvideo.md §7) and `ffmpeg -sws_flags
// bilinear` make; checked byte-identical to the latter. It follows the frame's colour matrix and
// range when tagged, BT.601 limited otherwise.
void append_rgb(const AVFrame* frame, Video& video, RgbConversion& to_rgb,
                const std::filesystem::path& file) {
  if (video.frames == 0) {
    video.width = frame->width;
    video.height = frame->height;
    to_rgb.rgb = allocate_frame(AV_PIX_FMT_RGB24, video.width, video.height, file);
  }
  FV_CHECK(frame->width == video.width && frame->height == video.height, file.string(), ": frame ",
           video.frames, " is ", frame->width, "x", frame->height, ", earlier frames are ",
           video.width, "x", video.height);
  Sws& sws = to_rgb.sws;
  sws.reset(sws_getCachedContext(sws.release(), frame->width, frame->height,
                                 AVPixelFormat(frame->format), frame->width, frame->height,
                                 AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr));
  FV_CHECK(sws != nullptr, file.string(), ": cannot convert pixel format ",
           av_get_pix_fmt_name(AVPixelFormat(frame->format)), " to RGB");
  const int matrix =
      frame->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : int(frame->colorspace);
  const int full_range = frame->color_range == AVCOL_RANGE_JPEG ? 1 : 0;
  sws_setColorspaceDetails(sws.get(), sws_getCoefficients(matrix), full_range,
                           sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
  sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, to_rgb.rgb->data,
            to_rgb.rgb->linesize);
  const size_t frame_bytes = size_t(video.width) * video.height * 3;
  video.rgb.resize(video.rgb.size() + frame_bytes);
  av_image_copy_plane(video.rgb.data() + video.rgb.size() - frame_bytes, video.width * 3,
                      to_rgb.rgb->data[0], to_rgb.rgb->linesize[0], video.width * 3, video.height);
  ++video.frames;
}

void receive_frames(Decoder& d, AVFrame* frame, Video& video, RgbConversion& to_rgb,
                    const std::filesystem::path& file) {
  for (;;) {
    const int rc = avcodec_receive_frame(d.codec.get(), frame);
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
    check_av(rc, file, "decoding");
    // A damaged stream decodes with the errors concealed: such a frame is not the video's.
    FV_CHECK(frame->decode_error_flags == 0 && !(frame->flags & AV_FRAME_FLAG_CORRUPT),
             file.string(), ": frame ", video.frames,
             " is damaged (the decoder had to conceal errors in it); the file is corrupt");
    append_rgb(frame, video, to_rgb, file);
    av_frame_unref(frame);
  }
}

}  // namespace

Video read_mp4(const std::filesystem::path& file) {
  Decoder d = open_decoder(file);
  Video video;
  const AVRational rate =
      av_guess_frame_rate(d.demux.get(), d.demux->streams[d.stream_index], nullptr);
  if (rate.num > 0 && rate.den > 0) video.fps = av_q2d(rate);

  Packet packet(av_packet_alloc());
  Frame frame(av_frame_alloc());
  FV_CHECK(packet != nullptr && frame != nullptr, file.string(), ": out of memory");
  RgbConversion to_rgb;
  for (;;) {
    const int rc = av_read_frame(d.demux.get(), packet.get());
    if (rc == AVERROR_EOF) break;
    check_av(rc, file, "reading a packet");
    if (packet->stream_index == d.stream_index) {
      const int send_rc = avcodec_send_packet(d.codec.get(), packet.get());
      av_packet_unref(packet.get());
      check_av(send_rc, file, "decoding");
      receive_frames(d, frame.get(), video, to_rgb, file);
    } else {
      av_packet_unref(packet.get());
    }
  }
  check_av(avcodec_send_packet(d.codec.get(), nullptr), file, "flushing the decoder");
  receive_frames(d, frame.get(), video, to_rgb, file);
  FV_CHECK(video.frames > 0, file.string(), ": the video stream has no frames");
  return video;
}

std::map<std::string, std::string> read_mp4_tags(const std::filesystem::path& file) {
  set_ffmpeg_log_level();
  AVFormatContext* raw = nullptr;
  check_av(avformat_open_input(&raw, file.string().c_str(), nullptr, nullptr), file, "opening");
  InputFormat demux(raw);
  std::map<std::string, std::string> tags;
  const AVDictionaryEntry* entry = nullptr;
  while ((entry = av_dict_get(demux->metadata, "", entry, AV_DICT_IGNORE_SUFFIX)) != nullptr)
    tags[entry->key] = entry->value;
  return tags;
}

}  // namespace fastvideo

#else  // !FASTVIDEO_HAVE_FFMPEG

namespace fastvideo {
namespace {

[[noreturn]] void no_ffmpeg(const std::filesystem::path& file) {
  fail(file.string(),
       ": MP4 needs the FFmpeg libraries (libavcodec, libavformat, libswscale), and this build has "
       "none; rebuild with FFmpeg installed, or save as .y4m or a PNG folder (a path without an "
       "extension)");
}

}  // namespace

bool mp4_supported() { return false; }
void write_mp4(const Video&, const std::filesystem::path& file, const VideoMetadata&) {
  no_ffmpeg(file);
}
Video read_mp4(const std::filesystem::path& file) { no_ffmpeg(file); }
std::map<std::string, std::string> read_mp4_tags(const std::filesystem::path& file) {
  no_ffmpeg(file);
}

}  // namespace fastvideo

#endif
