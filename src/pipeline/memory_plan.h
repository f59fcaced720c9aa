// What a run needs on the GPU and what to offload so that it fits (issue 12, fastvideo.md §6.2).
// Weights are counted exactly from the tensor tables; activations are estimated from the shape
// with per-token and per-pixel constants measured on an H200 (docs/perf.md, "Memory plan").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace fastvideo {

struct MemoryNeeds {        // bytes, in the dtypes the weights have on the GPU
  int64_t dit_weights = 0;  // every transformer weight
  int64_t dit_block = 0;    // one block's weights
  int dit_blocks = 0;
  int64_t text_encoder_weights = 0;
  int64_t text_encoder_layer = 0;     // one UMT5 layer's weights
  int64_t text_encoder_resident = 0;  // what stays on the GPU when its layers stream
  int64_t vae_weights = 0;
  int64_t encode_activations = 0;
  int64_t denoise_activations = 0;
  int64_t decode_activations = 0;        // untiled
  int64_t decode_activations_tiled = 0;  // with vae_tiling
};

// Activation estimates: the text encoder's (three times its f32 working set: the gated FFN, the
// residual stream and the scores; 0.69 GiB for UMT5-XXL, which peaked 0.71 GiB above its weights
// on the H200); for one video, the transformer's over `tokens` latent tokens of width
// `dim` and FFN width `ffn_dim` with a `text_len`-token context for `blocks` blocks; the VAE's
// over frames x height x width pixels (tiled: tile x tile pixels at a time).
// UMT5 of width d_model, FFN width d_ff and `heads` heads over `tokens` tokens.
int64_t estimate_encode_activations(int64_t d_model, int64_t d_ff, int64_t heads, int64_t tokens);
int64_t estimate_denoise_activations(int64_t tokens, int64_t dim, int64_t ffn_dim, int blocks,
                                     int64_t text_len);
// With the decode split along the height over `ranks` GPUs (the VAE height split) each holds
// the working set of its band of rows, and the whole video.
int64_t estimate_decode_activations(int64_t frames, int64_t height, int64_t width, int ranks = 1);
int64_t estimate_tiled_decode_activations(int64_t frames, int64_t height, int64_t width,
                                          int64_t tile);

// The transformer's weights on one GPU when its blocks are sharded over `shards` GPUs
// (use_fsdp_inference), from `needs`' whole-model counts: the top level whole, this GPU's piece of
// every block, and two blocks gathered whole (the one running and the next). One shard holds every
// block and gathers nothing new, but the same two gathered copies are made.
int64_t sharded_dit_weights(const MemoryNeeds& needs, int shards);

// The offloads a run uses. Each user setting is fixed; unset ones (auto) are chosen.
struct OffloadChoice {
  bool dit_layerwise = false;
  bool text_encoder = false;  // streamed (text_encoder_cpu_offload)
  bool vae = false;
  bool vae_tiling = false;
  // A resident text encoder loaded for each generation and released after encoding
  // (keep_text_encoder false), rather than loaded once and kept.
  bool text_encoder_released = false;
};
struct OffloadSettings {  // what the user fixed; nullopt: auto
  std::optional<bool> dit_layerwise, text_encoder, vae, vae_tiling, text_encoder_released;
};

// The device memory a choice's busiest stage needs.
int64_t peak_device_bytes(const MemoryNeeds& needs, const OffloadChoice& choice);
// The budget a plan of that peak needs, its margin included, beside `in_use` bytes already held.
int64_t budget_for(int64_t peak, int64_t in_use);

struct MemoryPlan {
  OffloadChoice choice;
  int64_t peak = 0;      // the estimate for `choice`
  int64_t smallest = 0;  // the least any choice the settings allow needs
  bool fits = false;     // peak, plus a 5 % margin, <= available
  std::string summary;   // one line: what is offloaded and why
};

// The least-costly choice the settings allow whose peak fits `available` bytes (preferring, in
// order of their cost, releasing the text encoder after encoding, streaming it, VAE offload, VAE
// tiling, then the transformer's layerwise offload); when none fits, the one that needs least.
MemoryPlan plan_memory(const MemoryNeeds& needs, const OffloadSettings& settings,
                       int64_t available);

// CFG's two passes as one batch (issue 11) hold two videos' activations and the two prompts'
// joined K/V, more than the one preset video `needs` counts where videos of over half the preset's
// tokens batch. The largest of `wanted` (the transformer's limit on a video's latent tokens for
// batching), half of `preset_tokens`, and 0 (never batch) whose batched denoising still fits
// `available` beside `choice`; the shape arguments as estimate_denoise_activations takes them.
int64_t cfg_batch_limit(const MemoryNeeds& needs, const OffloadChoice& choice, int64_t available,
                        int64_t wanted, int64_t preset_tokens, int64_t dim, int64_t ffn_dim,
                        int blocks, int64_t text_len);

std::string format_gib(int64_t bytes);  // "7.25 GiB"

// When a setting keeps one GPU's transformer blocks resident (`resident_because`: compile mode, FP8
// linears) and so `plan` (plan_memory's for these needs, settings and `available`) does not fit,
// but layerwise offload would have: why, naming that setting and both figures (margins included).
// Empty otherwise (it fits, or nothing the plan may choose would fit anyway). For one GPU and
// unsharded weights, where layerwise offload exists.
std::string resident_blocks_problem(const MemoryNeeds& needs, const OffloadSettings& settings,
                                    const MemoryPlan& plan, int64_t available,
                                    std::string_view resident_because);

}  // namespace fastvideo
