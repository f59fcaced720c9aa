// The UMT5 text encoder (transformers UMT5EncoderModel), wan21.md §3. It runs where its weights
// are and in their dtype: f32 on the CPU; bf16 (the diffusers path, §3.2) or f32 on a GPU.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/compile_stats.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/weights.h"
#include "models/umt5/umt5_config.h"

namespace fastvideo {

class Umt5Graphs;

// Every tensor the encoder reads, by checkpoint name (wan21.md §3.1): shared.weight, 9 per layer
// and encoder.final_layer_norm.weight; 242 for UMT5-XXL. A checkpoint may also carry
// encoder.embed_tokens.weight (tied to shared.weight); it is not listed, so it is an extra.
std::vector<TensorSpec> umt5_encoder_specs(const Umt5Config& config);

class Umt5Encoder {
 public:
  // Checks that `weights` holds every tensor of umt5_encoder_specs with its shape, all on one
  // device.
  Umt5Encoder(Umt5Config config, Weights weights);
  // text_encoder_cpu_offload (fastvideo.md §6.2): the weights stay in the checkpoint's files
  // (`mapped`, opened with umt5_encoder_specs); each encode() brings one layer at a time to
  // `device` in `dtype` and drops it after, and looks the embedding's rows up in the file. UMT5
  // runs once per prompt, so each weight crosses once either way; on the GPU only a layer and
  // the activations are ever resident, and host memory holds none of it.
  Umt5Encoder(Umt5Config config, std::shared_ptr<const MappedComponent> mapped, Device device,
              DType dtype);

  // Runs on the real tokens only (prompt ids plus EOS) -> [1, n, d_model] in the weights' dtype,
  // on their device.
  Tensor encode(std::span<const int32_t> ids) const;

  // wan21.md §3.3: encode() rows, then exact zeros up to max_length -> [1, max_length, d_model].
  // Identical to the pipeline's masked run over max_length ids, since masked keys get zero
  // weight and the relative bias depends only on offsets.
  Tensor encode_padded(std::span<const int32_t> ids, int64_t max_length) const;


  // Compile mode for the text encoder (FastVideo's compile.text_encoder_enabled; CUDA graphs,
  // issue 11): from the second prompt of a token count on, the layers replay from a graph
  // captured after that count's first, eager, encode (models/umt5/cuda/umt5_graphs.h). On a GPU
  // and with resident weights only (refused otherwise: streaming copies weights in mid-encode).
  void enable_compile();
  bool compiled() const { return graphs_ != nullptr; }
  // Graphs captured, replays, capture seconds and graph memory; zeros when not compiled.
  using CompileStats = fastvideo::CompileStats;
  CompileStats compile_stats() const;

 private:
  struct Layer {
    Tensor attn_norm, qkv, o, relative_attention_bias;  // qkv: q, k, v stacked [3·inner, d]
    Tensor ffn_norm, wi, wo;                            // wi: wi_0, wi_1 stacked [2·d_ff, d]
  };

  // offset_buckets: relative_offset_buckets for h's tokens, on the encoder's device.
  Tensor self_attention(const Layer& layer, const Tensor& h, const Tensor& offset_buckets) const;
  Tensor feed_forward(const Layer& layer, const Tensor& h) const;
  // Every layer and the final norm over embedded tokens x [1, n, d_model].
  Tensor forward_layers(const Tensor& x, const Tensor& offset_buckets) const;
  // Layer i's weights, each tensor fetch(its full name): the one list of a layer's names.
  static Layer layer_of(int i, const std::function<Tensor(const std::string&)>& fetch);
  Layer layer_from_file(int i) const;  // streaming: layer i's weights, loaded now

  Umt5Config config_;
  Tensor shared_;
  std::vector<Layer> layers_;
  Tensor final_norm_;
  std::shared_ptr<const MappedComponent> mapped_;  // streaming; layers_ then empty
  Device device_;                                  // where it runs
  DType dtype_ = DType::F32;                       // of its weights and activations
  std::shared_ptr<Umt5Graphs> graphs_;             // compile mode; null: eager
};

}  // namespace fastvideo
