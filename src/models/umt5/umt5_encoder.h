// The UMT5 text encoder (transformers UMT5EncoderModel), wan21.md §3. It runs where its weights
// are and in their dtype: f32 on the CPU; bf16 (the diffusers path, §3.2) or f32 on a GPU.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "io/weights.h"
#include "models/umt5/umt5_config.h"

namespace fastvideo {

class LayerwiseOffload;

// text_encoder_cpu_offload (fastvideo.md §6.2): the weights stay in host memory; each layer's
// streams to `device` just ahead of use (two resident), the embedding lookup runs on the host and
// only the looked-up rows go to the GPU.
struct Umt5Offload {
  Device device = Device::cuda();
  bool pin_cpu_memory = true;
};

// Every tensor the encoder reads, by checkpoint name (wan21.md §3.1): shared.weight, 9 per layer
// and encoder.final_layer_norm.weight; 242 for UMT5-XXL. A checkpoint may also carry
// encoder.embed_tokens.weight (tied to shared.weight); it is not listed, so it is an extra.
std::vector<TensorSpec> umt5_encoder_specs(const Umt5Config& config);

class Umt5Encoder {
 public:
  // Checks that `weights` holds every tensor of umt5_encoder_specs with its shape, all on one
  // device. With `offload` they are CPU tensors in the GPU dtype, and the encoder runs on
  // offload->device.
  Umt5Encoder(Umt5Config config, Weights weights,
              const std::optional<Umt5Offload>& offload = std::nullopt);
  ~Umt5Encoder();

  // Runs on the real tokens only (prompt ids plus EOS) -> [1, n, d_model] in the weights' dtype,
  // on their device.
  Tensor encode(std::span<const int32_t> ids) const;

  // wan21.md §3.3: encode() rows, then exact zeros up to max_length -> [1, max_length, d_model].
  // Identical to the pipeline's masked run over max_length ids, since masked keys get zero
  // weight and the relative bias depends only on offsets.
  Tensor encode_padded(std::span<const int32_t> ids, int64_t max_length) const;

  const Umt5Config& config() const { return config_; }

 private:
  struct Layer {
    Tensor attn_norm, q, k, v, o, relative_attention_bias;
    Tensor ffn_norm, wi_0, wi_1, wo;
  };

  Tensor self_attention(const Layer& layer, const Tensor& h,
                        std::span<const int32_t> buckets) const;
  Tensor feed_forward(const Layer& layer, const Tensor& h) const;
  static std::vector<Tensor*> layer_tensors(Layer& layer);  // the order offload streams them in

  Umt5Config config_;
  Weights weights_;
  Tensor shared_;
  std::vector<Layer> layers_;
  Tensor final_norm_;
  Device device_;                              // where it runs
  std::shared_ptr<LayerwiseOffload> offload_;  // text_encoder_cpu_offload; layers_ then empty
};

}  // namespace fastvideo
