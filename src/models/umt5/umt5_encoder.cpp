#include "models/umt5/umt5_encoder.h"

#include <string>

#include "models/umt5/relative_position_bucket.h"
#ifdef FASTVIDEO_HAVE_CUDA
#include "models/umt5/cuda/umt5_graphs.h"
#endif
#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/tensor_ops.h"

namespace fastvideo {

namespace {

std::string layer_prefix(int i) { return str_cat("encoder.block.", i, ".layer."); }

}  // namespace

std::vector<TensorSpec> umt5_encoder_specs(const Umt5Config& c) {
  const int64_t d = c.d_model, inner = c.inner_dim(), ff = c.d_ff;
  std::vector<TensorSpec> specs;
  specs.push_back({"shared.weight", {c.vocab_size, d}});
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i);
    specs.push_back({p + "0.layer_norm.weight", {d}});
    specs.push_back({p + "0.SelfAttention.q.weight", {inner, d}});
    specs.push_back({p + "0.SelfAttention.k.weight", {inner, d}});
    specs.push_back({p + "0.SelfAttention.v.weight", {inner, d}});
    specs.push_back({p + "0.SelfAttention.o.weight", {d, inner}});
    specs.push_back({p + "0.SelfAttention.relative_attention_bias.weight",
                     {c.relative_attention_num_buckets, c.num_heads}});
    specs.push_back({p + "1.layer_norm.weight", {d}});
    specs.push_back({p + "1.DenseReluDense.wi_0.weight", {ff, d}});
    specs.push_back({p + "1.DenseReluDense.wi_1.weight", {ff, d}});
    specs.push_back({p + "1.DenseReluDense.wo.weight", {d, ff}});
  }
  specs.push_back({"encoder.final_layer_norm.weight", {d}});
  return specs;
}

Umt5Encoder::Umt5Encoder(Umt5Config config, Weights weights) : config_(std::move(config)) {
  const Device device = weights.get("shared.weight").device();
  for (const TensorSpec& spec : umt5_encoder_specs(config_)) {
    const Tensor& t = weights.get(spec.name);
    check_shape(t, spec.shape, "text encoder tensor " + spec.name);
    FV_CHECK(t.device() == device, "text encoder tensor ", spec.name, " is ", t.describe(),
             "; every tensor must be on ", device.name(), " like shared.weight");
  }
  device_ = device;
  dtype_ = weights.get("shared.weight").dtype();
  shared_ = weights.take("shared.weight");
  // Taken, so each layer's separate projections are freed once fused.
  for (int i = 0; i < config_.num_layers; ++i)
    layers_.push_back(layer_of(i, [&](const std::string& name) { return weights.take(name); }));
  final_norm_ = weights.take("encoder.final_layer_norm.weight");
}

Umt5Encoder::Umt5Encoder(Umt5Config config, std::shared_ptr<const MappedComponent> mapped,
                         Device device, DType dtype)
    : config_(std::move(config)), mapped_(std::move(mapped)), device_(device), dtype_(dtype) {
  final_norm_ = mapped_->load("encoder.final_layer_norm.weight", dtype_, device_);
}

Umt5Encoder::Layer Umt5Encoder::layer_of(int i,
                                         const std::function<Tensor(const std::string&)>& fetch) {
  const std::string p = layer_prefix(i);
  auto w = [&](const std::string& name) { return fetch(p + name); };
  // q, k, v as one projection and wi_0, wi_1 as another: at a prompt's few hundred rows, one
  // GEMM three (two) times as wide fills the GPU where each alone leaves it partly idle.
  const Tensor qkv[] = {w("0.SelfAttention.q.weight"), w("0.SelfAttention.k.weight"),
                        w("0.SelfAttention.v.weight")};
  const Tensor wi[] = {w("1.DenseReluDense.wi_0.weight"), w("1.DenseReluDense.wi_1.weight")};
  return {w("0.layer_norm.weight"),       ops::concat(qkv, 0),
          w("0.SelfAttention.o.weight"),  w("0.SelfAttention.relative_attention_bias.weight"),
          w("1.layer_norm.weight"),       ops::concat(wi, 0),
          w("1.DenseReluDense.wo.weight")};
}

Umt5Encoder::Layer Umt5Encoder::layer_from_file(int i) const {
  return layer_of(i, [&](const std::string& name) { return mapped_->load(name, dtype_, device_); });
}

Tensor Umt5Encoder::self_attention(const Layer& layer, const Tensor& h,
                                   const Tensor& offset_buckets) const {
  const int64_t n = h.size(1), H = config_.num_heads, dk = config_.d_kv;
  // [1, n, 3·inner] read in place as q, k, v [1, n, H, dk] (tokens 3·inner apart).
  const Tensor qkv = ops::linear(h, layer.qkv).reshape({1, n, 3, H, dk});
  // wan21.md §3.2: each UMT5 layer has its own bias table; scores are NOT scaled by 1/√d_kv.
  Tensor bias = ops::relative_position_bias(layer.relative_attention_bias, offset_buckets, n, n);
  Tensor out = ops::attention(qkv.select(2, 0), qkv.select(2, 1), qkv.select(2, 2), 1.0f, bias)
                   .reshape({1, n, H * dk});
  return ops::linear(out, layer.o);
}

Tensor Umt5Encoder::feed_forward(const Layer& layer, const Tensor& h) const {
  // wan21.md §3.2: gated-gelu uses gelu_new (tanh) on wi_0, the linear branch is wi_1.
  return ops::linear(ops::gelu_tanh_gate(ops::linear(h, layer.wi)), layer.wo);
}

Tensor Umt5Encoder::encode(std::span<const int32_t> ids) const {
  const int64_t n = int64_t(ids.size());
  FV_CHECK(n > 0, "UMT5 encoder: no token ids (a prompt encodes to at least EOS)");
  for (int64_t i = 0; i < n; ++i) {
    FV_CHECK(ids[i] >= 0 && ids[i] < config_.vocab_size, "UMT5 encoder: token id ", ids[i],
             " at position ", i, " is outside the vocabulary of size ", config_.vocab_size);
  }
  // wan21.md §3.2: plain lookup, no √d_model scaling. Streaming reads only the rows it needs.
  const Tensor x0 = mapped_ ? mapped_->load_rows("shared.weight", ids, dtype_, device_)
                            : ops::embedding(shared_, ids);
  const Tensor x = x0.reshape({1, n, config_.d_model});
  // Uploaded once: the layers then queue on the device without waiting for the host.
  auto offset_buckets = [&] {
    return relative_offset_buckets(n, n, config_.relative_attention_num_buckets,
                                   config_.relative_attention_max_distance)
        .to(device_);
  };
#ifdef FASTVIDEO_HAVE_CUDA
  if (graphs_) {
    return graphs_->run(x, offset_buckets, [this](const Tensor& xi, const Tensor& buckets) {
      return forward_layers(xi, buckets);
    });
  }
#endif
  return forward_layers(x, offset_buckets());
}

Tensor Umt5Encoder::forward_layers(const Tensor& x0, const Tensor& offset_buckets) const {
  const float eps = config_.layer_norm_epsilon;
  Tensor x = x0;
  for (int i = 0; i < config_.num_layers; ++i) {
    // Streaming: this layer's weights live until the next iteration replaces them.
    const Layer streamed = mapped_ ? layer_from_file(i) : Layer{};
    const Layer& layer = mapped_ ? streamed : layers_[size_t(i)];
    x = ops::add(x, self_attention(layer, ops::rms_norm(x, eps, layer.attn_norm), offset_buckets));
    x = ops::add(x, feed_forward(layer, ops::rms_norm(x, eps, layer.ffn_norm)));
  }
  return ops::rms_norm(x, eps, final_norm_);
}

void Umt5Encoder::enable_compile() {
  FV_CHECK(!mapped_,
           "compile.text_encoder_enabled and text_encoder_cpu_offload do not go together: "
           "streaming copies each layer's weights in during the encode, which a captured CUDA "
           "graph cannot replay; turn one of them off");
  FV_CHECK(!device_.is_cpu(),
           "compile.text_encoder_enabled captures CUDA graphs and the text encoder runs on ",
           device_.name(), "; run it on a GPU or without compiling it");
#ifdef FASTVIDEO_HAVE_CUDA
  if (!graphs_) graphs_ = std::make_shared<Umt5Graphs>();
#else
  fail("compile.text_encoder_enabled needs the CUDA backend, and this build has none");
#endif
}

Umt5Encoder::CompileStats Umt5Encoder::compile_stats() const {
#ifdef FASTVIDEO_HAVE_CUDA
  if (graphs_) return graphs_->stats();
#endif
  return {};
}

Tensor Umt5Encoder::encode_padded(std::span<const int32_t> ids, int64_t max_length) const {
  const int64_t n = int64_t(ids.size());
  FV_CHECK(n <= max_length, "UMT5 encoder: ", n, " token ids exceed max_length ", max_length,
           " (the tokenizer truncates to max_length, EOS included)");
  const Tensor encoded = encode(ids);
  Tensor out = Tensor::zeros({1, max_length, config_.d_model}, encoded.dtype(), encoded.device());
  out.slice(1, 0, n).copy_from(encoded);
  return out;
}

}  // namespace fastvideo
