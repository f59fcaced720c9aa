#include "models/wan/vae/wan_vae_decoder.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fastvideo/log.h"
#include "ops/channels_last.h"
#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/captured_function.h"
#endif
#include "ops/elementwise.h"
#include "ops/linear.h"

namespace fastvideo {

// One cache per causal conv and upsampler of the decoder, for one stream of chunks.
struct WanVaeDecoder::StreamCache {
  CausalConv3dCache conv_in;
  WanResidualBlock::Cache mid_resnet0, mid_resnet1;
  std::vector<std::vector<WanResidualBlock::Cache>> up_resnets;
  std::vector<WanUpsample::Cache> upsamplers;
  CausalConv3dCache conv_out;

  // Calls fn on every conv's cache, in one fixed order.
  template <class Fn>
  void for_each_conv(Fn&& fn) {
    fn(conv_in);
    for (auto* r : {&mid_resnet0, &mid_resnet1}) {
      fn(r->conv1);
      fn(r->conv2);
    }
    for (auto& level : up_resnets) {
      for (auto& r : level) {
        fn(r.conv1);
        fn(r.conv2);
      }
    }
    for (auto& u : upsamplers) fn(u.time_conv);
    fn(conv_out);
  }
  // A new stream on the same buffers.
  void restart() {
    for_each_conv([](CausalConv3dCache& c) { c.restart(); });
    for (auto& u : upsamplers) u.seen_first_chunk = false;
  }
  // What decides the host's path through a chunk: every cache's fill and every upsampler's
  // first-chunk mark. Equal states run the same work on the same buffers.
  std::vector<int64_t> state() {
    std::vector<int64_t> s;
    for_each_conv([&](CausalConv3dCache& c) { s.push_back(c.valid); });
    for (auto& u : upsamplers) s.push_back(u.seen_first_chunk);
    return s;
  }
};

// Compile mode, for one chunk shape: the stream caches (every tile of that shape reuses them,
// restarted) and the graph captured on them in the `steady` state.
struct WanVaeDecoder::CompiledStream {
  StreamCache cache;
#ifdef FASTVIDEO_HAVE_CUDA
  std::unique_ptr<CapturedFunction> graph;
#endif
  std::vector<int64_t> steady;
  bool capture_failed = false;  // the stream decodes eagerly from then on
};

// Compile mode's streams for one decode, by chunk shape [B, H, W, C]. `tiled`: later streams
// (tiles) of a shape may replay its graph, so a steady last chunk is still worth capturing.
struct WanVaeDecoder::ChunkGraphs {
  std::map<std::array<int64_t, 4>, CompiledStream> streams;
  bool tiled = false;
};

namespace {

// §2.1: z_vae = z_model·std[c] + mean[c], written as a linear layer with a diagonal weight.
Tensor diagonal_weight(const std::vector<float>& std_dev) {
  const int64_t z = int64_t(std_dev.size());
  Tensor w = Tensor::zeros({z, z}, DType::F32);
  for (int64_t c = 0; c < z; ++c) w.f32()[c * z + c] = std_dev[size_t(c)];
  return w;
}

// post_quant_conv's weight [z, z, 1, 1, 1], checked by name, as the linear layer it is.
Tensor pointwise_weight(const Weights& weights, const std::string& name, int64_t channels) {
  const Tensor& w = weights.get(name);
  check_shape(w, std::array<int64_t, 5>{channels, channels, 1, 1, 1}, name);
  return ops::pointwise_as_linear(w);
}

}  // namespace

WanVaeDecoder::WanVaeDecoder(WanVaeConfig config, const Weights& weights)
    : config_(std::move(config)),
      device_(weights.get("post_quant_conv.weight").device()),
      dtype_(weights.get("post_quant_conv.weight").dtype()),
      denormalize_weight_(diagonal_weight(config_.latents_std).to(device_)),
      denormalize_bias_(Tensor::from_vector(config_.latents_mean, {config_.z_dim}).to(device_)),
      post_quant_weight_(pointwise_weight(weights, "post_quant_conv.weight", config_.z_dim)),
      post_quant_bias_(weights.get("post_quant_conv.bias")),
      conv_in_(weights, "decoder.conv_in", 1, 1, 1),
      mid_resnet0_(weights, "decoder.mid_block.resnets.0", config_.decoder_dims()[0],
                   config_.decoder_dims()[0]),
      mid_attention_(weights, "decoder.mid_block.attentions.0"),
      mid_resnet1_(weights, "decoder.mid_block.resnets.1", config_.decoder_dims()[0],
                   config_.decoder_dims()[0]),
      norm_out_gamma_(weights.get("decoder.norm_out.gamma").to(DType::F32)),
      conv_out_(weights, "decoder.conv_out", 1, 1, 1) {
  const std::vector<int> dims = config_.decoder_dims();
  const std::vector<bool> temporal = config_.temporal_upsample();
  for (int i = 0; i < config_.num_levels(); ++i) {
    const std::string prefix = "decoder.up_blocks." + std::to_string(i);
    UpBlock block;
    int64_t in = config_.up_block_in_dim(i);
    const int64_t out = dims[i + 1];
    for (int r = 0; r <= config_.num_res_blocks; ++r, in = out)
      block.resnets.emplace_back(weights, prefix + ".resnets." + std::to_string(r), in, out);
    if (i + 1 < config_.num_levels())
      block.upsampler.emplace(weights, prefix + ".upsamplers.0", temporal[i]);
    up_blocks_.push_back(std::move(block));
  }
}

Tensor WanVaeDecoder::decode(const Tensor& latents, const std::optional<VaeTiling>& tiling,
                             Communicator* height_split) const {
  FV_CHECK(latents.ndim() == 5 && latents.size(1) == config_.z_dim && latents.size(2) >= 1,
           "WanVaeDecoder: expected latents [B,", config_.z_dim, ",T,H,W] with T >= 1, got ",
           latents.describe());
  const int split = height_split ? height_split->size() : height_split_size();
  FV_CHECK(!(tiling && (height_split || split_)), "VAE tiling and the VAE height split across ",
           split,
           " ranks cannot be combined: tiles are decoded one by one on one device; turn one off");
  if (!height_split && split_) return decode_as_group(latents);
  // One compiled decode at a time, locked before this decode queues anything: a capture records
  // everything queued on the device's stream, another decode's work included.
  std::unique_lock<std::mutex> one_at_a_time;
  if (compile_ && !height_split) one_at_a_time = std::unique_lock(decode_mutex_);
  // De-normalisation in fp32, then the decoder runs in its weights' dtype on their device.
  // Both are per-pixel maps of the channels: linear layers over them channels-last (not cuDNN,
  // whose first convolution in a process costs more than the whole map).
  const Tensor pixels = latents.to(device_).to(DType::F32).permute({0, 2, 3, 4, 1}).contiguous();
  const Tensor denormalized = ops::linear(pixels, denormalize_weight_, denormalize_bias_);
  // post_quant_conv is 1×1×1, so running it before cutting tiles is the same as after.
  const Tensor z = ops::linear(denormalized.to(dtype_), post_quant_weight_, post_quant_bias_)
                       .permute({0, 4, 1, 2, 3})
                       .contiguous();
  const int64_t s = config_.spatial_stride();
  if (tiling) {
    const VaeTiling& t = *tiling;
    for (const auto& [name, size, stride] : {std::tuple{"height", t.tile_height, t.stride_height},
                                             std::tuple{"width", t.tile_width, t.stride_width}}) {
      FV_CHECK(size > 0 && stride > 0 && size % s == 0 && stride % s == 0 && stride <= size,
               "VAE tiling: tile ", name, " ", size, " and stride ", stride,
               " must be positive multiples of ", s, " with stride <= tile");
    }
  }
  // Compile mode's graphs live for this decode (a height split never has them: refused).
  std::optional<ChunkGraphs> graphs;
  if (one_at_a_time.owns_lock()) graphs.emplace();
  ChunkGraphs* g = graphs ? &*graphs : nullptr;
  if (tiling && (z.size(3) > tiling->tile_height / s || z.size(4) > tiling->tile_width / s)) {
    return decode_tiled(z, *tiling, g);
  }
  if (!height_split) return decode_frames(z, /*clamp=*/true, nullptr, g);
  const RowBand band(*height_split, z.size(3));
  const Tensor video = band.gather(decode_frames(band.band_of(z), /*clamp=*/true, &band));
  // A collective that failed after it returned fails this decode, not a later call.
  height_split->wait_collectives();
  return video;
}

void WanVaeDecoder::enable_height_split(std::vector<std::unique_ptr<WanVaeDecoder>> replicas,
                                        std::vector<std::unique_ptr<Communicator>> group) {
  FV_CHECK(!compile_,
           "the VAE height split does not go together with compile.vae_enabled in this "
           "version; run on one GPU or without vae_enabled");
  auto split = std::make_shared<ReplicaGroup<WanVaeDecoder>>(std::move(replicas), std::move(group),
                                                             "the VAE height split", "decoder");
  for (const auto& r : split->replicas()) {
    FV_CHECK(r->device() != device_ || device_.is_cpu(),
             "the VAE height split: a replica must be this decoder on another device, got one on ",
             r->device().name(), " beside the decoder on ", device_.name());
  }
  split_ = std::move(split);
}

int WanVaeDecoder::height_split_size() const { return split_ ? split_->size() : 1; }

Tensor WanVaeDecoder::decode_as_group(const Tensor& latents) const {
  Tensor video;
  const std::vector<Tensor> inputs = split_->to_each_rank(*this, latents);
  split_->run(*this, [&](const WanVaeDecoder& d, Communicator& comm) {
    Tensor mine = d.decode(inputs[size_t(comm.rank())], std::nullopt, &comm);
    if (comm.rank() == 0) video = std::move(mine);
  });
  return video;
}

WanVaeDecoder::StreamCache WanVaeDecoder::fresh_stream_cache() const {
  StreamCache cache;
  cache.up_resnets.resize(up_blocks_.size());
  for (size_t i = 0; i < up_blocks_.size(); ++i)
    cache.up_resnets[i].resize(up_blocks_[i].resnets.size());
  cache.upsamplers.resize(up_blocks_.size());
  return cache;
}

Tensor WanVaeDecoder::decode_frames(const Tensor& z, bool clamp, const RowBand* band,
                                    ChunkGraphs* graphs) const {
  const int64_t B = z.size(0), T = z.size(2), s = config_.spatial_stride();
  Tensor video =
      Tensor::empty({B, 3, 1 + (T - 1) * config_.temporal_stride(), z.size(3) * s, z.size(4) * s},
                    dtype_, device_);
  StreamCache own;
  CompiledStream* compiled = nullptr;
  if (graphs) {
    const std::array<int64_t, 4> key = {B, z.size(3), z.size(4), z.size(1)};
    auto it = graphs->streams.find(key);
    if (it == graphs->streams.end()) {
      it = graphs->streams.emplace(key, CompiledStream()).first;
      it->second.cache = fresh_stream_cache();
    }
    compiled = &it->second;
    compiled->cache.restart();
  } else {
    own = fresh_stream_cache();
  }
  StreamCache& cache = compiled ? compiled->cache : own;
  int64_t written = 0;
  for (int64_t t = 0; t < T; ++t) {
    if (band == nullptr)
      check_stop(stop_, str_cat("the decode (latent frame ", t + 1, " of ", T, ")"));
    // The chunk's activations are channels-last (ops/channels_last.h) from conv_in to conv_out;
    // the latents and the video channels-first, as the pipeline hands and takes them.
    const Tensor chunk = z.slice(2, t, t + 1).permute({0, 2, 3, 4, 1}).contiguous();
    const bool more_to_come = t + 1 < T || (graphs && graphs->tiled);
    Tensor frames = compiled ? compiled_chunk(chunk, *compiled, more_to_come)
                             : decode_chunk(chunk, cache, band);  // [B, n, H, W, 3]
    if (clamp) frames = ops::clamp(frames, -1.0f, 1.0f);
    const int64_t n = frames.size(1);
    FV_CHECK(written + n <= video.size(2), "WanVaeDecoder: chunk ", t, " gave ", n,
             " frames, more than the ", video.size(2), " expected in total");
    video.slice(2, written, written + n).copy_from(frames.permute({0, 4, 1, 2, 3}));
    written += n;
  }
  FV_CHECK(written == video.size(2), "WanVaeDecoder: decoded ", written, " frames, expected ",
           video.size(2));
  return video;
}

namespace {

// diffusers' blend_v / blend_h: the first `overlap` rows (axis 3) or columns (axis 4) of b become
// a's last ones · (1 − i/overlap) + b's · i/overlap, overlap cut to both tiles' extent.
void blend(const Tensor& a, const Tensor& b, int axis, int64_t overlap) {
  overlap = std::min({a.size(axis), b.size(axis), overlap});
  const int64_t a0 = a.size(axis) - overlap;
  for (int64_t i = 0; i < overlap; ++i) {
    const double w = double(i) / double(overlap);
    const std::pair<Tensor, double> terms[] = {
        {a.slice(axis, a0 + i, a0 + i + 1).contiguous(), 1.0 - w},
        {b.slice(axis, i, i + 1).contiguous(), w}};
    b.slice(axis, i, i + 1).copy_from(ops::linear_combination(terms));
  }
}

}  // namespace

Tensor WanVaeDecoder::decode_tiled(const Tensor& z, const VaeTiling& t, ChunkGraphs* graphs) const {
  const int64_t s = config_.spatial_stride(), H = z.size(3), W = z.size(4);
  const int64_t rows = t.tile_height / s, cols = t.tile_width / s;  // a tile, in latents
  const int64_t step_h = t.stride_height / s, step_w = t.stride_width / s;
  // Compile mode keeps the caches and graph of whole tiles only: the edge tiles, fewer and of up
  // to three other sizes, decode eagerly, so one tile size's memory is held, not four.
  if (graphs) {
    int64_t whole_tiles = 0;
    for (int64_t i = 0; i + rows <= H; i += step_h)
      for (int64_t j = 0; j + cols <= W; j += step_w) ++whole_tiles;
    graphs->tiled = whole_tiles > 1;
  }
  Tensor video =
      Tensor::empty({z.size(0), 3, 1 + (z.size(2) - 1) * config_.temporal_stride(), H * s, W * s},
                    dtype_, device_);
  std::vector<Tensor> above;  // the previous row of tiles, blended
  for (int64_t i = 0; i < H; i += step_h) {
    std::vector<Tensor> row;
    for (int64_t j = 0; j < W; j += step_w) {
      const bool whole = i + rows <= H && j + cols <= W;
      const Tensor tile = decode_frames(
          z.slice(3, i, std::min(i + rows, H)).slice(4, j, std::min(j + cols, W)).contiguous(),
          /*clamp=*/false, nullptr, whole ? graphs : nullptr);
      if (i > 0) blend(above[row.size()], tile, 3, t.tile_height - t.stride_height);
      if (j > 0) blend(row.back(), tile, 4, t.tile_width - t.stride_width);
      // Its top-left stride × stride pixels are final (later tiles blend only their own rows and
      // columns); the clamp commutes with the crop.
      const int64_t h = std::min(t.stride_height, tile.size(3));
      const int64_t w = std::min(t.stride_width, tile.size(4));
      video.slice(3, i * s, i * s + h)
          .slice(4, j * s, j * s + w)
          .copy_from(ops::clamp(tile.slice(3, 0, h).slice(4, 0, w).contiguous(), -1.0f, 1.0f));
      row.push_back(tile);
    }
    above = std::move(row);
  }
  return video;
}

Tensor WanVaeDecoder::compiled_chunk(const Tensor& z, CompiledStream& entry,
                                     bool more_to_come) const {
  std::vector<int64_t> before = entry.cache.state();
#ifdef FASTVIDEO_HAVE_CUDA
  if (entry.graph && before == entry.steady) {
    // The caller queues its use of the frames before the next replay overwrites them.
    const Tensor& frames = entry.graph->replay(z);
    std::lock_guard lock(compile_mutex_);
    compile_stats_.replays += 1;
    return frames;
  }
#endif
  Tensor frames = decode_chunk(z, entry.cache, nullptr);
#ifdef FASTVIDEO_HAVE_CUDA
  // A chunk that left the caches as full as it found them is what every later chunk of the stream
  // runs: captured right after that eager run, which built every plan it needs.
  if (!entry.graph && !entry.capture_failed && more_to_come && entry.cache.state() == before) {
    try {
      entry.graph = std::make_unique<CapturedFunction>(
          z, "the VAE decoder's chunk " + z.describe(),
          [&](const Tensor& input) { return decode_chunk(input, entry.cache, nullptr); });
    } catch (const Cancelled&) {
      throw;
    } catch (const Error& e) {
      // A capture runs nothing and the steady chunk leaves the caches' state as it found it, so
      // the eager chunks that follow give the same frames; only the speed-up is lost.
      log::warning("compile.vae_enabled: the VAE chunk ", z.describe(),
                   " could not be captured, so it decodes eagerly: ", e.what());
      entry.capture_failed = true;
      return frames;
    }
    entry.steady = std::move(before);
    std::lock_guard lock(compile_mutex_);
    compile_stats_.captured(entry.graph->capture_seconds(), entry.graph->pool_bytes());
  }
#endif
  return frames;
}

void WanVaeDecoder::enable_compile() {
  FV_CHECK(!device_.is_cpu(),
           "compile.vae_enabled: compile mode captures CUDA graphs and the VAE "
           "is on ",
           device_.name());
#ifndef FASTVIDEO_HAVE_CUDA
  fail("compile.vae_enabled: this build has no CUDA backend");
#endif
  FV_CHECK(!split_, "compile.vae_enabled does not go together with the VAE height split across ",
           height_split_size(), " GPUs in this version; run on one GPU or without vae_enabled");
  compile_ = true;
}

CompileStats WanVaeDecoder::compile_stats() const {
  std::lock_guard lock(compile_mutex_);
  return compile_stats_;
}

Tensor WanVaeDecoder::decode_chunk(const Tensor& z, StreamCache& cache, const RowBand* band) const {
  Tensor x = conv_in_.forward(z, cache.conv_in, band);
  x = mid_resnet0_.forward(x, cache.mid_resnet0, band);
  x = mid_attention_.forward(x, band);
  x = mid_resnet1_.forward(x, cache.mid_resnet1, band);
  for (size_t i = 0; i < up_blocks_.size(); ++i) {
    const UpBlock& block = up_blocks_[i];
    for (size_t r = 0; r < block.resnets.size(); ++r)
      x = block.resnets[r].forward(x, cache.up_resnets[i][r], band);
    if (block.upsampler) x = block.upsampler->forward(x, cache.upsamplers[i], band);
  }
  x = ops::rms_norm_silu_ndhwc(x, norm_out_gamma_);
  return conv_out_.forward(x, cache.conv_out, band);
}

}  // namespace fastvideo
