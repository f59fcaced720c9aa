// The Wan2.1 VAE decoder (wan21.md §2.3, §2.4): latents as the DiT produces them
// [B, z_dim, T, H, W] -> video [B, 3, 1 + 4(T−1), 8H, 8W] in [−1, 1].
//
// Decoding runs once per latent frame, like diffusers: every causal conv carries the last two
// frames of its input stream to the next call and each upsample3d passes the first chunk through
// unchanged. Working memory is one latent frame's activations plus two cached frames per conv,
// whatever T is; only the output grows with T.
//
// Tiled decoding (diffusers' AutoencoderKLWan.tiled_decode, FastVideo's vae_tiling) bounds it by a
// tile's instead of the frame's: the latents are cut into overlapping spatial tiles, each decoded
// on its own as above, and the overlaps blended linearly.
//
// Split across a group of ranks (issue 15, row_band.h), each rank decodes one band of the latent
// rows, exchanging one halo row with its neighbours before every 3×3 conv and gathering the
// frame's pixels for the mid attention's keys; the bands are gathered at the end.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/compile_stats.h"
#include "core/stop_flag.h"
#include "models/wan/vae/causal_conv3d.h"
#include "models/wan/vae/row_band.h"
#include "models/wan/vae/wan_residual_block.h"
#include "models/wan/vae/wan_upsample.h"
#include "models/wan/vae/wan_vae_config.h"
#include "models/wan/vae/wan_vae_mid_attention.h"
#include "parallel/replica_group.h"

namespace fastvideo {

// Tile size and stride in output pixels (diffusers' tile_sample_min_{height,width} and
// tile_sample_stride_{height,width}, same defaults). Positive multiples of the spatial stride (8),
// stride <= size.
struct VaeTiling {
  int64_t tile_height = 256, tile_width = 256;
  int64_t stride_height = 192, stride_width = 192;
};

class WanVaeDecoder {
 public:
  // `weights` holds the used tensors of wan_vae_specs(config); they are shared, not copied.
  WanVaeDecoder(WanVaeConfig config, const Weights& weights);

  // latents [B, z_dim, T, H, W], model-normalised. De-normalises (z·std + mean, §2.1), applies
  // post_quant_conv, decodes frame by frame and clamps to [−1, 1]. Runs where the weights are,
  // in their dtype (f32 on the CPU, bf16 on a GPU), with every stream cache on that device; the
  // video is returned there, in that dtype.
  // With `tiling`, latents larger than one tile (in height or width) decode tile by tile as
  // diffusers does: a tile every stride/8 latents, each tile/8 latents (fewer at the edges) with
  // its own stream caches; each tile's first rows blended with the tile above and its first
  // columns with the tile to the left (both as already blended), weight y/overlap for the new tile
  // over overlap = tile − stride pixels; each tile then cropped to the stride; the clamp last.
  // Only the previous row of tiles is held, not every tile.
  // With `height_split` (issue 15): this call is one rank of a group that all call decode on the
  // same latents, each with its own decoder (the same weights, on its own device). Rank r decodes
  // latent rows [r·n, (r+1)·n) with n = ceil(H / ranks), rows past H being zero padding (with more
  // ranks than rows need, a band may be all padding: still correct, only idle), and every rank
  // returns the whole video, equal to the unsplit decode up to rounding. Not with tiling (refused).
  Tensor decode(const Tensor& latents, const std::optional<VaeTiling>& tiling = std::nullopt,
                Communicator* height_split = nullptr) const;

  // The height split as a mode (issue 15), as WanTransformer::enable_sequence_parallel: from now
  // on a decode() without a communicator runs as every rank of `group` at once (run_ranks), rank 0
  // on this decoder and rank r on replicas[r − 1] (the same weights, each on its own GPU), or on
  // this decoder for every rank when there are none (the CPU's threads), and returns rank 0's
  // video on this decoder's device. One decode at a time. Not with tiling (refused).
  void enable_height_split(std::vector<std::unique_ptr<WanVaeDecoder>> replicas,
                           std::vector<std::unique_ptr<Communicator>> group);
  int height_split_size() const;

  // Compile mode (FastVideo's compile.vae_enabled; CUDA graphs, issue 11): within each decode,
  // a stream's chunks run eagerly until one leaves every cache as full as it found it (the fourth
  // latent frame on Wan's decoder); that chunk's work is then captured into a CUDA graph, which
  // the stream's later chunks and, tiled, the later whole tiles replay (edge tiles stay eager).
  // The caches are updated in place, so a replay reads and writes them where the capture did; the
  // graphs and their memory go at the end of the decode, and a decode whose last chunk is the
  // first steady one captures nothing. The same frames as eager; one compiled decode at a time. A
  // decoder on the CPU, a build without CUDA, or the height split is refused.
  void enable_compile();
  bool compiled() const { return compile_; }
  CompileStats compile_stats() const;

  DType dtype() const { return dtype_; }  // of the weights, activations and output
  Device device() const { return device_; }

  // From now on every decode polls `stop` before each latent frame (and tile): a stop request
  // ends it with Cancelled within a chunk instead of after the whole decode, which on the CPU can
  // be the longest stage. Not in the height split, whose ranks must reach every halo exchange
  // together (one rank leaving would fail the group). Null: never polled.
  void watch_stop(const StopFlag* stop) { stop_ = stop; }

 private:
  struct UpBlock {
    std::vector<WanResidualBlock> resnets;
    std::optional<WanUpsample> upsampler;
  };
  struct StreamCache;
  struct CompiledStream;  // compile mode: a chunk shape's caches and graph
  struct ChunkGraphs;     // compile mode's compiled streams for one decode

  // z [B, z_dim, T, H, W] after post_quant_conv -> the video, frame by frame with fresh stream
  // caches; clamped to [−1, 1] when `clamp`. With `band`, z and the video are this rank's band.
  // With `graphs` (compile mode), the caches are those of z's chunk shape, restarted, and chunks
  // in a captured state replay their graph.
  Tensor decode_frames(const Tensor& z, bool clamp, const RowBand* band = nullptr,
                       ChunkGraphs* graphs = nullptr) const;
  // The same cut into tiles (see decode), clamped.
  Tensor decode_tiled(const Tensor& z, const VaeTiling& tiling, ChunkGraphs* graphs) const;
  StreamCache fresh_stream_cache() const;
  // Compile mode's chunk: replayed from the stream's graph when its caches are in the captured
  // state, else eager, and captured once a chunk leaves the state as it found it, unless no chunk
  // that could replay it is to come.
  Tensor compiled_chunk(const Tensor& z, CompiledStream& stream, bool more_to_come) const;
  // One latent frame channels-last [B, 1, H, W, z_dim] (after post_quant_conv) -> its output
  // frames [B, n, 8H, 8W, 3].
  Tensor decode_chunk(const Tensor& z, StreamCache& cache, const RowBand* band) const;

  // decode() as every rank of split_.
  Tensor decode_as_group(const Tensor& latents) const;

  std::shared_ptr<ReplicaGroup<WanVaeDecoder>> split_;  // null: one device
  const StopFlag* stop_ = nullptr;                      // watch_stop
  bool compile_ = false;
  mutable std::mutex compile_mutex_;  // guards compile_stats_
  mutable std::mutex decode_mutex_;   // one compiled decode at a time
  mutable CompileStats compile_stats_;

  WanVaeConfig config_;
  Device device_;  // of the weights; activations and caches live there
  DType dtype_;    // of the weights; activations use it
  Tensor denormalize_weight_, denormalize_bias_;  // f32 diag(std) [z, z] and mean [z]
  Tensor post_quant_weight_, post_quant_bias_;    // the 1×1×1 conv as a linear layer: [z, z]
  CausalConv3d conv_in_;
  WanResidualBlock mid_resnet0_;
  WanVaeMidAttention mid_attention_;
  WanResidualBlock mid_resnet1_;
  std::vector<UpBlock> up_blocks_;
  Tensor norm_out_gamma_;
  CausalConv3d conv_out_;
};

}  // namespace fastvideo
