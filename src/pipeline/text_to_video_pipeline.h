// Wan2.1 text-to-video as a fixed list of stages (DESIGN §1):
// validate → encode text → prepare latents → denoise → decode → write.
// On a GPU every model, the latents and the scheduler state live on the device; the latents come
// back to the host once, for the result.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <optional>

#include "attention/attention_selection.h"
#include "fastvideo/video_generator.h"
#include "io/checkpoint.h"
#include "models/umt5/umt5_config.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "pipeline/sampling_preset.h"

namespace fastvideo {

class Umt5Encoder;
class T5Tokenizer;

class TextToVideoPipeline {
 public:
  TextToVideoPipeline(const std::filesystem::path& model_dir, const GeneratorOptions& options);
  ~TextToVideoPipeline();

  GenerationResult run(const GenerationRequest& request, VideoGenerator::ProgressFn progress,
                       void* progress_user);

  const SamplingPreset& preset() const { return preset_; }

 private:
  Tensor encode_prompt(const std::string& prompt, int max_length);
  void load_text_encoder();
  // The DiT's token grid (T, H, W after patching) for latents [B, C, T, H, W].
  std::array<int64_t, 3> token_grid(const Shape& latent_shape) const;

  std::filesystem::path model_dir_;
  GeneratorOptions options_;
  Device device_;
  DType weight_dtype_ = DType::F32;        // transformer and VAE weights (f32 CPU, bf16 GPU)
  DType text_encoder_dtype_ = DType::F32;  // UMT5 weights
  CheckpointFolder checkpoint_;
  SamplingPreset preset_;
  Umt5Config text_encoder_config_;  // checked against its weights with the others, at start
  AttentionSelection attention_;    // resolved once, before any weights load (DESIGN §4)
  std::unique_ptr<T5Tokenizer> tokenizer_;
  std::unique_ptr<Umt5Encoder> text_encoder_;  // loaded per request unless kept
  std::unique_ptr<WanTransformer> transformer_;
  std::unique_ptr<WanVaeDecoder> vae_;
};

}  // namespace fastvideo
