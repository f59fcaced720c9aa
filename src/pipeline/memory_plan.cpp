#include "pipeline/memory_plan.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// Calibration (H200, docs/perf.md "Memory plan"): the 1.3B forward at 480x832x81 (32,760 tokens)
// peaked 2.0 GiB above its weights, which is tokens x (2·ffn + 10·dim) bf16 values; the pipeline's
// decode to 81x480x832 peaked 5.9 GiB above the weights it holds, 14.5 kB per output pixel of a
// frame plus the decoded frames (f32 and bf16 copies, 18 bytes per pixel and frame).
constexpr int64_t kDecodeBytesPerPixel = 14500;
// Estimates are within a few percent of those peaks; a plan keeps this share of the memory free.
constexpr int64_t kMarginDivisor = 20;  // 5 %
constexpr int64_t kFrameBytesPerPixel = 18;

struct Candidate {
  OffloadChoice choice;
  int cost = 0;  // lower is faster
  int64_t peak = 0;
};

}  // namespace

int64_t estimate_encode_activations(int64_t d_model, int64_t d_ff, int64_t heads, int64_t tokens) {
  const int64_t working = tokens * (3 * d_ff + 6 * d_model) * 4 + heads * tokens * tokens * 4 * 2;
  return 3 * working;
}

int64_t estimate_denoise_activations(int64_t tokens, int64_t dim, int64_t ffn_dim, int blocks,
                                     int64_t text_len) {
  const int64_t per_forward = tokens * (2 * ffn_dim + 10 * dim) * 2;
  const int64_t text_kv = int64_t(blocks) * 2 * text_len * dim * 2 * 2;  // prompt and negative
  return per_forward + text_kv;
}

int64_t sharded_dit_weights(const MemoryNeeds& needs, int shards) {
  FV_CHECK(shards >= 1, "sharded_dit_weights: ", shards, " shards");
  const int64_t blocks = needs.dit_block * needs.dit_blocks;
  return needs.dit_weights - blocks + (blocks + shards - 1) / shards + 2 * needs.dit_block;
}

int64_t estimate_decode_activations(int64_t frames, int64_t height, int64_t width, int ranks) {
  const int64_t r = std::max(ranks, 1), band_rows = (height + r - 1) / r;
  return band_rows * width * kDecodeBytesPerPixel + height * width * frames * kFrameBytesPerPixel;
}

int64_t estimate_tiled_decode_activations(int64_t frames, int64_t height, int64_t width,
                                          int64_t tile) {
  const int64_t tile_pixels = std::min(tile, height) * std::min(tile, width);
  return tile_pixels * kDecodeBytesPerPixel + height * width * frames * kFrameBytesPerPixel;
}

int64_t peak_device_bytes(const MemoryNeeds& n, const OffloadChoice& c) {
  const int64_t dit = c.dit_layerwise
                          ? n.dit_weights - n.dit_block * (n.dit_blocks - std::min(2, n.dit_blocks))
                          : n.dit_weights;
  const int64_t vae_idle = c.vae ? 0 : n.vae_weights;
  const int64_t text_encoder =
      c.text_encoder ? n.text_encoder_resident + 2 * n.text_encoder_layer : n.text_encoder_weights;
  // A kept encoder stays resident through the later stages; a released or streamed one leaves
  // nothing.
  const int64_t kept = c.text_encoder || c.text_encoder_released ? 0 : n.text_encoder_weights;
  const int64_t encode = dit + vae_idle + text_encoder + n.encode_activations;
  const int64_t denoise = dit + vae_idle + kept + n.denoise_activations;
  const int64_t decode = dit + n.vae_weights + kept +
                         (c.vae_tiling ? n.decode_activations_tiled : n.decode_activations);
  return std::max({encode, denoise, decode});
}

int64_t cfg_batch_limit(const MemoryNeeds& needs, const OffloadChoice& choice, int64_t available,
                        int64_t wanted, int64_t preset_tokens, int64_t dim, int64_t ffn_dim,
                        int blocks, int64_t text_len) {
  const int64_t joined_kv = estimate_denoise_activations(0, dim, ffn_dim, blocks, text_len);
  for (const int64_t limit : {wanted, std::min(wanted, preset_tokens / 2)}) {
    MemoryNeeds batched = needs;
    const int64_t videos = 2 * std::min(limit, preset_tokens);
    batched.denoise_activations =
        std::max(needs.denoise_activations,
                 estimate_denoise_activations(videos, dim, ffn_dim, blocks, text_len) + joined_kv);
    if (budget_for(peak_device_bytes(batched, choice), 0) <= available) return limit;
  }
  return 0;
}

int64_t budget_for(int64_t peak, int64_t in_use) { return peak + peak / kMarginDivisor + in_use; }

std::string format_gib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", double(bytes) / double(int64_t(1) << 30));
  return text;
}

MemoryPlan plan_memory(const MemoryNeeds& needs, const OffloadSettings& settings,
                       int64_t available) {
  std::vector<Candidate> candidates;
  for (int bits = 0; bits < 32; ++bits) {
    const OffloadChoice c{(bits & 8) != 0, (bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0,
                          (bits & 16) != 0};
    auto allowed = [](const std::optional<bool>& fixed, bool value) {
      return !fixed || *fixed == value;
    };
    // A streamed encoder holds nothing to keep or release.
    if (c.text_encoder && c.text_encoder_released) continue;
    if (!allowed(settings.dit_layerwise, c.dit_layerwise) ||
        !allowed(settings.text_encoder, c.text_encoder) || !allowed(settings.vae, c.vae) ||
        !allowed(settings.vae_tiling, c.vae_tiling) ||
        (!c.text_encoder && !allowed(settings.text_encoder_released, c.text_encoder_released)))
      continue;
    // Reloading the encoder each generation costs least (about a second), then streaming it,
    // then the rest.
    candidates.push_back({c,
                          int(c.text_encoder_released) + 2 * int(c.text_encoder) + 2 * int(c.vae) +
                              4 * int(c.vae_tiling) + 8 * int(c.dit_layerwise),
                          peak_device_bytes(needs, c)});
  }
  const Candidate* best = nullptr;
  const Candidate* least = nullptr;
  for (const Candidate& c : candidates) {
    if (!least || c.peak < least->peak) least = &c;
    if (budget_for(c.peak, 0) > available) continue;
    if (!best || c.cost < best->cost || (c.cost == best->cost && c.peak < best->peak)) best = &c;
  }
  MemoryPlan plan;
  const Candidate& chosen = best ? *best : *least;
  plan.choice = chosen.choice;
  plan.peak = chosen.peak;
  plan.smallest = least->peak;
  plan.fits = best != nullptr;
  std::vector<std::string> parts;
  const OffloadChoice& c = plan.choice;
  auto say = [&](bool on, const std::optional<bool>& fixed, const char* name) {
    if (on) parts.push_back(str_cat(name, fixed ? " (asked for)" : " (auto)"));
  };
  say(c.dit_layerwise, settings.dit_layerwise, "dit_layerwise_offload");
  say(c.text_encoder, settings.text_encoder, "text_encoder_cpu_offload");
  say(c.vae, settings.vae, "vae_cpu_offload");
  say(c.vae_tiling, settings.vae_tiling, "vae_tiling");
  say(c.text_encoder_released, settings.text_encoder_released,
      "the text encoder released after encoding");
  std::string what = "nothing offloaded";
  if (!parts.empty()) {
    what = "offloading";
    for (size_t i = 0; i < parts.size(); ++i) what += (i ? ", " : " ") + parts[i];
  }
  plan.summary =
      str_cat("memory plan: ", what, "; estimated peak ", format_gib(plan.peak), " of ",
              format_gib(available),
              " available (all resident: ", format_gib(peak_device_bytes(needs, {})), ")");
  return plan;
}

std::string resident_blocks_problem(const MemoryNeeds& needs, const OffloadSettings& settings,
                                    const MemoryPlan& kept, int64_t available,
                                    std::string_view resident_because) {
  if (resident_because.empty() || kept.fits) return "";
  OffloadSettings streamed = settings;
  streamed.dit_layerwise = true;
  const MemoryPlan offloaded = plan_memory(needs, streamed, available);
  if (!offloaded.fits) return "";
  return str_cat(resident_because, " keeps the transformer's blocks on the device, and then this ",
                 "run needs about ", format_gib(budget_for(kept.smallest, 0)), " of the ",
                 format_gib(available), " available (a 5 % margin included); layerwise offload ",
                 "would fit it in ", format_gib(budget_for(offloaded.peak, 0)),
                 ", but does not go together with that setting: turn it off, or use a larger GPU");
}

}  // namespace fastvideo
