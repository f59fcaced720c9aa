#include "models/wan/dit/wan_transformer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>

#include "fastvideo/log.h"
#include "io/load_stop.h"
#include "models/wan/dit/wan_rope.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/fp8_linear.h"
#include "ops/gemm_autotune.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/norm_fp8.h"
#include "ops/patchify.h"
#include "ops/residual_norm.h"
#include "ops/rope.h"
#include "ops/tensor_ops.h"
#include "ops/timestep_embedding.h"
#include "runtime/layer_layout.h"
#include "runtime/sharded_layers.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "models/wan/dit/cuda/wan_forward_graphs.h"
#include "runtime/cuda/layerwise_offload.h"
#endif

namespace fastvideo {

std::string_view vsa_gate_prefix(VsaGateLayout layout) {
  switch (layout) {
    case VsaGateLayout::InAttention:
      return "attn1.to_gate_compress";
    case VsaGateLayout::InBlock:
      return "to_gate_compress";
    case VsaGateLayout::Absent:
      break;
  }
  return "";
}

VsaGateLayout find_vsa_gate_layout(const std::set<std::string>& tensor_names, int num_layers) {
  auto has = [&](int block, VsaGateLayout layout) {
    return tensor_names.count(str_cat("blocks.", block, ".", vsa_gate_prefix(layout), ".weight"));
  };
  VsaGateLayout found = VsaGateLayout::Absent;
  for (VsaGateLayout layout : {VsaGateLayout::InAttention, VsaGateLayout::InBlock}) {
    if (!has(0, layout)) continue;
    FV_CHECK(found == VsaGateLayout::Absent, "transformer: blocks.0 has both ",
             vsa_gate_prefix(VsaGateLayout::InAttention), " and ",
             vsa_gate_prefix(VsaGateLayout::InBlock), "; expected one gate per block");
    found = layout;
  }
  for (int i = 0; i < num_layers; ++i) {
    const bool here = found != VsaGateLayout::Absent && has(i, found);
    const bool other = has(i, VsaGateLayout::InAttention) || has(i, VsaGateLayout::InBlock);
    if (found == VsaGateLayout::Absent) {
      FV_CHECK(!other, "transformer: blocks.", i,
               " has a VSA gate (to_gate_compress) but blocks.0 "
               "has none; expected it in every block or in none");
    } else {
      FV_CHECK(here, "transformer: blocks.", i, " has no ", vsa_gate_prefix(found),
               ".weight but blocks.0 has one; expected the gate in every block or in none");
    }
  }
  return found;
}

bool find_sla_proj_l(const std::set<std::string>& tensor_names, int num_layers) {
  auto has = [&](int block) {
    return tensor_names.count(str_cat("blocks.", block, ".", kSlaProjLPrefix, ".weight")) != 0;
  };
  const bool first = num_layers > 0 && has(0);
  for (int i = 1; i < num_layers; ++i) {
    FV_CHECK(has(i) == first, "transformer: blocks.", i, first ? " has no " : " has ",
             kSlaProjLPrefix, ".weight but blocks.0 ", first ? "has one" : "has none",
             "; expected SLA's proj_l in every block or in none");
  }
  return first;
}

std::vector<TensorSpec> wan_transformer_specs(const WanTransformerConfig& config,
                                              const WanBlockExtras& extras) {
  const int64_t D = config.inner_dim(), F = config.ffn_dim;
  const auto& p = config.patch_size;
  const int64_t patch_out = int64_t(config.out_channels) * config.patch_volume();
  // wan21.md §1.1, top level (15 tensors).
  std::vector<TensorSpec> specs = {
      {"patch_embedding.weight", {D, config.in_channels, p[0], p[1], p[2]}},
      {"patch_embedding.bias", {D}},
      {"condition_embedder.time_embedder.linear_1.weight", {D, config.freq_dim}},
      {"condition_embedder.time_embedder.linear_1.bias", {D}},
      {"condition_embedder.time_embedder.linear_2.weight", {D, D}},
      {"condition_embedder.time_embedder.linear_2.bias", {D}},
      {"condition_embedder.time_proj.weight", {6 * D, D}},
      {"condition_embedder.time_proj.bias", {6 * D}},
      {"condition_embedder.text_embedder.linear_1.weight", {D, config.text_dim}},
      {"condition_embedder.text_embedder.linear_1.bias", {D}},
      {"condition_embedder.text_embedder.linear_2.weight", {D, D}},
      {"condition_embedder.text_embedder.linear_2.bias", {D}},
      {"scale_shift_table", {1, 2, D}},
      {"proj_out.weight", {patch_out, D}},
      {"proj_out.bias", {patch_out}},
  };
  // Per block (27 tensors).
  for (int i = 0; i < config.num_layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    specs.push_back({b + "scale_shift_table", {1, 6, D}});
    for (const char* attn : {"attn1.", "attn2."}) {
      for (const char* proj : {"to_q", "to_k", "to_v", "to_out.0"}) {
        specs.push_back({b + attn + proj + ".weight", {D, D}});
        specs.push_back({b + attn + proj + ".bias", {D}});
      }
      specs.push_back({b + attn + "norm_q.weight", {D}});
      specs.push_back({b + attn + "norm_k.weight", {D}});
    }
    specs.push_back({b + "norm2.weight", {D}});
    specs.push_back({b + "norm2.bias", {D}});
    specs.push_back({b + "ffn.net.0.proj.weight", {F, D}});
    specs.push_back({b + "ffn.net.0.proj.bias", {F}});
    specs.push_back({b + "ffn.net.2.weight", {D, F}});
    specs.push_back({b + "ffn.net.2.bias", {D}});
    if (extras.gate != VsaGateLayout::Absent) {
      const std::string g = b + std::string(vsa_gate_prefix(extras.gate));
      specs.push_back({g + ".weight", {D, D}, extras.load_gate});
      specs.push_back({g + ".bias", {D}, extras.load_gate});
    }
    if (extras.proj_l) {
      const int64_t hd = config.attention_head_dim;
      const std::string p = b + std::string(kSlaProjLPrefix);
      specs.push_back({p + ".weight", {hd, hd}, extras.load_proj_l});
      specs.push_back({p + ".bias", {hd}, extras.load_proj_l});
    }
  }
  return specs;
}

std::set<std::string> wan_transformer_fp32_names(const WanTransformerConfig& config,
                                                 const WanBlockExtras& extras) {
  // diffusers' _keep_in_fp32_modules for WanTransformer3DModel, matched against each component of
  // the dotted name (so norm_q/norm_k, which only start with "norm", stay bf16).
  static const std::set<std::string> kept_modules = {"rope",  "time_embedder", "scale_shift_table",
                                                     "norm1", "norm2",         "norm3"};
  std::set<std::string> names;
  for (const TensorSpec& spec : wan_transformer_specs(config, extras)) {
    if (spec.name.find(kSlaProjLPrefix) != std::string::npos) {
      names.insert(spec.name);
      continue;
    }
    size_t begin = 0;
    while (begin <= spec.name.size()) {
      const size_t end = std::min(spec.name.find('.', begin), spec.name.size());
      if (kept_modules.count(spec.name.substr(begin, end - begin))) {
        names.insert(spec.name);
        break;
      }
      begin = end + 1;
    }
  }
  return names;
}

namespace {

// A block's linear: FP8 where quantize_linears_fp8 left scales (2-D: 128×128 blocks), else in the
// weight's dtype.
Tensor block_linear(const Tensor& x, const Tensor& weight, const Tensor& scales, const Tensor& bias,
                    bool gelu = false) {
  if (scales.defined() && scales.ndim() == 2)
    return ops::fp8_block_linear(x, {weight, scales}, bias, gelu);
  if (scales.defined()) return ops::fp8_linear(x, {weight, scales}, bias, gelu);
  return gelu ? ops::linear_gelu(x, weight, bias) : ops::linear(x, weight, bias);
}

// What a norm hands the linears behind it: its result, or with FP8 linears its rows already
// quantized (norm_fp8.h: made by the norm's own kernel, one quantization for all of them), plus
// the result too where another reader needs it (VSA's gate linear, in the weights' dtype).
struct NormOutput {
  Tensor h;
  std::optional<ops::Fp8Rows> rows;
  DType dtype;  // the activations'

  Tensor linear(const Tensor& weight, const Tensor& scales, const Tensor& bias,
                bool gelu = false) const {
    if (!scales.defined()) return block_linear(h, weight, scales, bias, gelu);
    return ops::fp8_linear(*rows, dtype, {weight, scales}, bias, gelu);
  }
};

// layer_norm_modulate (shift, scale) or layer_norm (weight, bias) of x as NormOutput; `fp8`:
// the linears behind it are FP8; `keep_h`: h is read beside them.
NormOutput block_norm(const Tensor& x, float eps, const Tensor& a, const Tensor& b, bool modulate,
                      bool fp8, bool keep_h) {
  NormOutput out{{}, std::nullopt, x.dtype()};
  if (!fp8 || keep_h) {
    out.h = modulate ? ops::layer_norm_modulate(x, eps, a, b) : ops::layer_norm(x, eps, a, b);
    if (fp8) out.rows = ops::quantize_rows_fp8(out.h);
  } else {
    out.rows =
        modulate ? ops::layer_norm_modulate_fp8(x, eps, a, b) : ops::layer_norm_fp8(x, eps, a, b);
  }
  return out;
}

// x + y·gate (x + y without a gate) and block_norm of that sum (keep_h false) in one pass
// (ops::residual_norm): the sum, and the norm as NormOutput.
std::pair<Tensor, NormOutput> residual_block_norm(const Tensor& x, const Tensor& y,
                                                  const Tensor& gate, float eps, const Tensor& a,
                                                  const Tensor& b, bool modulate, bool fp8) {
  ops::ResidualNorm r = ops::residual_norm(x, y, gate, {eps, a, b, modulate, fp8});
  return {std::move(r.sum), NormOutput{std::move(r.normed), std::move(r.rows), x.dtype()}};
}

// [R, D] table repeated over the batch: [B, R, D], on the table's device.
Tensor repeat_over_batch(const Tensor& table, int64_t batch) {
  Tensor out = Tensor::empty({batch, table.size(0), table.size(1)}, table.dtype(), table.device());
  for (int64_t b = 0; b < batch; ++b) out.select(0, b).copy_from(table);
  return out;
}

// [B, D] vector repeated over rows: [B, R, D], on the vector's device.
Tensor repeat_over_rows(const Tensor& vector, int64_t rows) {
  Tensor out =
      Tensor::empty({vector.size(0), rows, vector.size(1)}, vector.dtype(), vector.device());
  for (int64_t r = 0; r < rows; ++r) out.select(1, r).copy_from(vector);
  return out;
}

std::set<std::string> names_of(const Weights& weights) {
  std::set<std::string> names;
  for (const auto& [name, tensor] : weights.all()) names.insert(name);
  return names;
}

}  // namespace

WanTransformer::WanTransformer(WanTransformerConfig config, Weights weights,
                               const AttentionBackend& self_attention,
                               const AttentionBackend& cross_attention,
                               const std::optional<WanLayerwiseOffload>& offload,
                               const std::optional<WanWeightSharding>& sharding)
    : config_(std::move(config)),
      self_attention_(&self_attention),
      cross_attention_(&cross_attention) {
  FV_CHECK(cross_attention.capabilities().cross_attention, "WanTransformer: attention backend ",
           cross_attention.name(), " cannot run cross-attention (dense backends only)");
  const std::string component = weights.component().empty() ? "transformer" : weights.component();
  const Device device = weights.get("patch_embedding.weight").device();
  const std::set<std::string> names = names_of(weights);
  const VsaGateLayout gate_layout = self_attention.takes_gate()
                                        ? find_vsa_gate_layout(names, config_.num_layers)
                                        : VsaGateLayout::Absent;
  const bool proj_l = self_attention.takes("proj_l") && find_sla_proj_l(names, config_.num_layers);
  FV_CHECK(!(offload && sharding), component,
           ": layerwise offload and sharded weights do not go together; pick one");
  // Layerwise offload and sharded weights take the blocks from host tensors and put the rest on
  // their device.
  const bool blocks_on_host = offload || sharding;
  const Device model_device = offload ? offload->device : sharding ? sharding->device : device;
  for (const TensorSpec& spec :
       wan_transformer_specs(config_, {.gate = gate_layout, .proj_l = proj_l})) {
    const Tensor& t = weights.get(spec.name);
    const bool block = spec.name.starts_with("blocks.");
    if (blocks_on_host && block) {
      FV_CHECK(t.device().is_cpu(), component, ": tensor ", spec.name, " is ", t.describe(), "; ",
               offload ? "layerwise offload streams" : "sharded weights cut",
               " the blocks from host tensors");
    } else {
      FV_CHECK(t.device() == device, component, ": tensor ", spec.name, " is ", t.describe(),
               "; every tensor must be on ", device.name(), " like patch_embedding.weight");
    }
    if (model_device.is_cpu() && !(blocks_on_host && block)) {
      FV_CHECK(t.dtype() == DType::F32, component, ": tensor ", spec.name, " is ", t.describe(),
               "; the CPU transformer needs f32 CPU tensors");
    } else {
      FV_CHECK(is_float_dtype(t.dtype()), component, ": tensor ", spec.name, " is ", t.describe(),
               "; expected F32, BF16 or F16");
    }
    check_shape(t, spec.shape, component + ": tensor " + spec.name);
  }
  if (offload) {
    FV_CHECK(!offload->device.is_cpu() && (device.is_cpu() || device == offload->device), component,
             ": layerwise offload streams host weights to a GPU; got weights on ", device.name(),
             " for ", offload->device.name());
#ifndef FASTVIDEO_HAVE_CUDA
    fail(component, ": layerwise offload needs the CUDA backend, which this build lacks");
#endif
  }
  if (sharding) {
    FV_CHECK(device.is_cpu() || device == sharding->device, component,
             ": sharded weights keep this rank's pieces on ", sharding->device.name(),
             "; got weights on ", device.name());
    FV_CHECK(sharding->ranks >= 1 && sharding->rank >= 0 && sharding->rank < sharding->ranks,
             component, ": sharded weights: rank ", sharding->rank, " of ", sharding->ranks);
  }
  // Top-level weights go to the model's device in layerwise offload and sharded weights; blocks'
  // stay on the host, as given.
  auto get = [&](const std::string& name) {
    Tensor t = weights.get(name).contiguous();
    return blocks_on_host ? t.to(model_device) : t;
  };
  auto get_block = [&](const std::string& name) {
    return blocks_on_host ? weights.take(name).contiguous() : weights.get(name).contiguous();
  };
  // Streamed blocks reach the GPU in the top-level weights' dtype, the f32 keep-list (and SLA's
  // proj_l) in f32, as the pipeline loads resident ones.
  const std::set<std::string> block_f32 =
      wan_transformer_fp32_names(config_, {.gate = gate_layout, .proj_l = proj_l});
  const DType block_dtype = weights.get("patch_embedding.weight").dtype();
  // Each such tensor's size is its index in block_member_names_ (the name past "blocks.0."), so
  // the layout can name its members in messages.
  auto streamed_dtype = [&](const std::string& name) {
    block_member_names_.push_back(name.substr(name.find('.', std::string("blocks.").size()) + 1));
    return Tensor::empty({int64_t(block_member_names_.size() - 1)},
                         block_f32.count(name) ? DType::F32 : block_dtype);
  };
  const int64_t D = config_.inner_dim();

  patch_w_ = get("patch_embedding.weight").reshape({D, -1});
  patch_b_ = get("patch_embedding.bias");
  const std::string ce = "condition_embedder.";
  time_1_w_ = get(ce + "time_embedder.linear_1.weight");
  time_1_b_ = get(ce + "time_embedder.linear_1.bias");
  time_2_w_ = get(ce + "time_embedder.linear_2.weight");
  time_2_b_ = get(ce + "time_embedder.linear_2.bias");
  time_proj_w_ = get(ce + "time_proj.weight");
  time_proj_b_ = get(ce + "time_proj.bias");
  text_1_w_ = get(ce + "text_embedder.linear_1.weight");
  text_1_b_ = get(ce + "text_embedder.linear_1.bias");
  text_2_w_ = get(ce + "text_embedder.linear_2.weight");
  text_2_b_ = get(ce + "text_embedder.linear_2.bias");
  // wan21.md §1.2: modulation arithmetic is f32 whatever dtype the tables were loaded in.
  head_modulation_ = get("scale_shift_table").reshape({2, D}).to(DType::F32);
  proj_out_w_ = get("proj_out.weight");
  proj_out_b_ = get("proj_out.bias");

  // Block i's tensors, each made by fetch(its name): the one place that says which name goes
  // where.
  auto make_block = [&](int i, const auto& fetch) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    auto attention = [&](const std::string& a) {
      return Attention{fetch(a + "to_q.weight"),
                       fetch(a + "to_q.bias"),
                       fetch(a + "to_k.weight"),
                       fetch(a + "to_k.bias"),
                       fetch(a + "to_v.weight"),
                       fetch(a + "to_v.bias"),
                       fetch(a + "to_out.0.weight"),
                       fetch(a + "to_out.0.bias"),
                       fetch(a + "norm_q.weight"),
                       fetch(a + "norm_k.weight"),
                       {},
                       {},
                       {},
                       {}};
    };
    Block block{fetch(b + "scale_shift_table"),
                attention(b + "attn1."),
                attention(b + "attn2."),
                fetch(b + "norm2.weight"),
                fetch(b + "norm2.bias"),
                fetch(b + "ffn.net.0.proj.weight"),
                fetch(b + "ffn.net.0.proj.bias"),
                fetch(b + "ffn.net.2.weight"),
                fetch(b + "ffn.net.2.bias"),
                {},
                {},
                {},
                {},
                int(i),
                {},
                {}};
    if (gate_layout != VsaGateLayout::Absent) {
      const std::string g = b + std::string(vsa_gate_prefix(gate_layout));
      block.gate_w = fetch(g + ".weight");
      block.gate_b = fetch(g + ".bias");
    }
    if (proj_l) {
      const std::string p = b + std::string(kSlaProjLPrefix);
      block.proj_l_w = fetch(p + ".weight");
      block.proj_l_b = fetch(p + ".bias");
    }
    return block;
  };
  // Every block has the same layout: block 0's names give the dtypes each member streams in.
  const Block streamed_dtypes = blocks_on_host ? make_block(0, streamed_dtype) : Block{};
  for (int i = 0; i < config_.num_layers; ++i) {
    if (blocks_on_host) check_load_stop(str_cat("transformer block ", i + 1));  // a copy each
    Block block = make_block(i, get_block);
    block.modulation = block.modulation.reshape({6, D});
    if (offload) {  // converted on their way to the GPU
      stream_block(i, block, streamed_dtypes, *offload);
      continue;
    }
    if (sharding) {  // this rank's piece, converted on its way to the device
      shard_block(i, block, streamed_dtypes, *sharding);
      continue;
    }
    // wan21.md §1.2: modulation arithmetic is f32; SLA's proj_l is f32 in FastVideo.
    block.modulation = block.modulation.to(DType::F32);
    if (proj_l) {
      block.proj_l_w = block.proj_l_w.to(DType::F32);
      block.proj_l_b = block.proj_l_b.to(DType::F32);
    }
    blocks_.push_back(std::move(block));
  }
}

WanTransformer::~WanTransformer() = default;

std::vector<Tensor*> WanTransformer::block_tensors(Block& b) {
  std::vector<Tensor*> all = {&b.modulation};
  for (Attention* a : {&b.self_attn, &b.cross_attn}) {
    for (Tensor* t : {&a->to_q_w, &a->to_q_b, &a->to_k_w, &a->to_k_b, &a->to_v_w, &a->to_v_b,
                      &a->to_out_w, &a->to_out_b, &a->norm_q, &a->norm_k})
      all.push_back(t);
  }
  for (Tensor* t : {&b.norm2_w, &b.norm2_b, &b.ffn_in_w, &b.ffn_in_b, &b.ffn_out_w, &b.ffn_out_b,
                    &b.gate_w, &b.gate_b, &b.proj_l_w, &b.proj_l_b}) {
    if (t->defined()) all.push_back(t);
  }
  return all;
}

LayerLayout WanTransformer::block_layout(Block& block, const Block& dtypes) {
  std::vector<LayerLayout::Member> members;
  Block template_block = dtypes;
  const std::vector<Tensor*> from = block_tensors(block), to = block_tensors(template_block);
  for (size_t k = 0; k < from.size(); ++k) {
    members.push_back(
        {from[k]->shape(), to[k]->dtype(), block_member_names_.at(size_t(to[k]->numel()))});
  }
  // Only which members are defined matters here: for_each_block fills in the block's tensors.
  block_template_ = std::move(template_block);
  return LayerLayout(std::move(members));
}

namespace {
std::vector<Tensor> tensors_of(const std::vector<Tensor*>& members) {
  std::vector<Tensor> tensors;
  for (const Tensor* t : members) tensors.push_back(*t);
  return tensors;
}
}  // namespace

void WanTransformer::stream_block(int i, Block& block, const Block& dtypes,
                                  const WanLayerwiseOffload& offload) {
#ifdef FASTVIDEO_HAVE_CUDA
  if (!offload_) {
    offload_ = std::make_shared<LayerwiseOffload>(block_layout(block, dtypes), config_.num_layers,
                                                  offload.device, offload.resident_blocks,
                                                  offload.pin_cpu_memory);
  }
  offload_->set_layer(i, tensors_of(block_tensors(block)));
#else
  fail("layerwise offload needs the CUDA backend, which this build lacks");
#endif
}

void WanTransformer::shard_block(int i, Block& block, const Block& dtypes,
                                 const WanWeightSharding& sharding) {
  if (!sharded_) {
    sharded_ = std::make_shared<ShardedLayers>(block_layout(block, dtypes), config_.num_layers,
                                               sharding.rank, sharding.ranks, sharding.device);
  }
  sharded_->set_layer(i, tensors_of(block_tensors(block)));
}

void WanTransformer::for_each_block(
    const std::function<void(const Block&, const StartNextBlock&)>& fn, Communicator* group) const {
  if (sharded_) {
    FV_CHECK(group, "WanTransformer: its weights are sharded (rank ", sharded_->rank(), " of ",
             sharded_->ranks(), "), so it runs only as that rank of its group");
    Block block = block_template_;
    const std::vector<Tensor*> members = block_tensors(block);
    // Block i+1's gather runs on the group's stream while block i computes; two gathered blocks
    // at most, as the memory plan counts.
    std::optional<ShardedLayers::PendingLayer> next = sharded_->start_gather(0, *group);
    for (int i = 0; i < config_.num_layers; ++i) {
      ShardedLayers::PendingLayer current = std::move(*next);
      next.reset();
      bool started = i + 1 >= config_.num_layers;
      const StartNextBlock start_next = [&] {
        if (!started) next = sharded_->start_gather(i + 1, *group);
        started = true;
      };
      const std::vector<Tensor> gathered = current.wait();
      for (size_t k = 0; k < members.size(); ++k) *members[k] = gathered[k];
      block.index = i;
      fn(block, start_next);
      start_next();
      for (Tensor* m : members) *m = Tensor();  // dropped once its work is queued
    }
    return;
  }
  const StartNextBlock nothing = [] {};
  if (!offload_) {
    for (const Block& block : blocks_) fn(block, nothing);
    return;
  }
#ifdef FASTVIDEO_HAVE_CUDA
  Block block = block_template_;
  const std::vector<Tensor*> members = block_tensors(block);
  for (int i = 0; i < config_.num_layers; ++i) {
    const std::vector<Tensor>& on_device = offload_->acquire(i);
    for (size_t k = 0; k < members.size(); ++k) *members[k] = on_device[k];
    block.index = i;
    try {
      fn(block, nothing);
    } catch (...) {
      offload_->release(i);  // the slot's next copy must wait for the work fn did queue
      throw;
    }
    offload_->release(i);
  }
#endif
}

WanTransformer::TextContext WanTransformer::prepare_text(const Tensor& context,
                                                         Communicator* sequence_parallel) const {
  FV_CHECK(context.ndim() == 3 && context.size(2) == config_.text_dim,
           "WanTransformer: text context must be [B, text_len, ", config_.text_dim, "], got ",
           context.describe());
  FV_CHECK(context.device() == device(), "WanTransformer: text context is on ",
           context.device().name(), ", the model on ", device().name());
  if (sequence_parallel) return prepare_rank_text(context, sequence_parallel);
  TextContext text;
  if (sequence_parallel_ && sharded_) {
    // Every rank gathers the blocks' weights in turn, so the ranks prepare their contexts together.
    std::vector<TextContext> per_rank(size_t(sequence_parallel_->size()));
    const std::vector<Tensor> contexts = sequence_parallel_->to_each_rank(*this, context);
    sequence_parallel_->run(*this, [&](const WanTransformer& m, Communicator& comm) {
      per_rank[size_t(comm.rank())] = m.prepare_rank_text(contexts[size_t(comm.rank())], &comm);
    });
    text = std::move(per_rank[0]);
    for (size_t r = 1; r < per_rank.size(); ++r) text.replicas.push_back(std::move(per_rank[r]));
  } else {
    text = prepare_rank_text(context, nullptr);
    if (sequence_parallel_) {
      for (const auto& replica : sequence_parallel_->replicas()) {
        text.replicas.push_back(replica->prepare_rank_text(context.to(replica->device()), nullptr));
      }
    }
  }
  if (partner_) {
    text.partner =
        std::make_shared<const TextContext>(partner_->prepare_text(context.to(partner_->device())));
  }
  return text;
}

namespace {

// Ids of prepared text contexts and of CFG's joined pairs, one sequence for both (0 is a
// hand-made context's).
uint64_t next_context_id() {
  static std::atomic<uint64_t> next{1};
  return next++;
}

}  // namespace

WanTransformer::TextContext WanTransformer::prepare_rank_text(const Tensor& context,
                                                              Communicator* group) const {
  const int64_t B = context.size(0), L = context.size(1);
  const int64_t H = config_.num_attention_heads, hd = config_.attention_head_dim;
  // wan21.md §1.3: the text MLP keeps all rows; zero padding maps to a constant non-zero row.
  // §3.3: the prompt embeddings are cast to the transformer dtype first.
  TextContext text;
  text.id = next_context_id();
  text.text =
      ops::linear(ops::gelu_tanh(ops::linear(context.to(activation_dtype()), text_1_w_, text_1_b_)),
                  text_2_w_, text_2_b_);
  for_each_block(
      [&](const Block& block, const StartNextBlock& start_next) {
        start_next();  // the next block's gather beside this one's projections
        const Attention& a = block.cross_attn;
        Tensor k = ops::rms_norm(block_linear(text.text, a.to_k_w, a.to_k_s, a.to_k_b), config_.eps,
                                 a.norm_k);
        Tensor v = block_linear(text.text, a.to_v_w, a.to_v_s, a.to_v_b);
        text.blocks.push_back({k.reshape({B, L, H, hd}), v.reshape({B, L, H, hd})});
      },
      group);
  return text;
}

void WanTransformer::enable_cfg_parallel(std::unique_ptr<WanTransformer> partner) {
  FV_CHECK(partner && partner.get() != this, "CFG-parallel needs a second transformer");
  FV_CHECK(!graphs_ && !offload_ && !partner->graphs_ && !partner->offload_,
           "CFG-parallel does not go together with compile mode or layerwise offload in this "
           "version");
  FV_CHECK(partner->config_.num_layers == config_.num_layers &&
               partner->config_.num_attention_heads == config_.num_attention_heads &&
               partner->fp8_linears_ == fp8_linears_,
           "CFG-parallel: the partner must be this transformer (the same config and linears)");
  partner_ = std::move(partner);
}

namespace {
// cond's and uncond's tensors joined along the batch.
Tensor batch_pair(const Tensor& a, const Tensor& b) {
  const Tensor pair[] = {a, b};
  return ops::concat(pair, 0);
}
// The two contexts can be one batch: the same shapes, replicas included. Hand-made contexts (id 0)
// are not joined: the join is kept by id.
bool joinable(const WanTransformer::TextContext& cond, const WanTransformer::TextContext& uncond) {
  if (cond.id == 0 || uncond.id == 0 || cond.blocks.size() != uncond.blocks.size() ||
      cond.replicas.size() != uncond.replicas.size() || cond.text.shape() != uncond.text.shape())
    return false;
  for (size_t r = 0; r < cond.replicas.size(); ++r)
    if (cond.replicas[r].text.shape() != uncond.replicas[r].text.shape()) return false;
  return true;
}
// The two contexts as one of twice the batch (replicas' too), with a new id.
WanTransformer::TextContext join_contexts(const WanTransformer::TextContext& cond,
                                          const WanTransformer::TextContext& uncond, uint64_t id) {
  WanTransformer::TextContext both;
  both.id = id;
  both.text = batch_pair(cond.text, uncond.text);
  for (size_t i = 0; i < cond.blocks.size(); ++i) {
    both.blocks.push_back({batch_pair(cond.blocks[i].k, uncond.blocks[i].k),
                           batch_pair(cond.blocks[i].v, uncond.blocks[i].v)});
  }
  for (size_t r = 0; r < cond.replicas.size(); ++r)
    both.replicas.push_back(join_contexts(cond.replicas[r], uncond.replicas[r], id));
  return both;
}
}  // namespace

std::shared_ptr<const WanTransformer::CfgBatch> WanTransformer::cfg_batch_context(
    const TextContext& cond, const TextContext& uncond) const {
  std::lock_guard lock(cfg_batch_mutex_);
  if (!cfg_batch_ || cfg_batch_->cond != cond.id || cfg_batch_->uncond != uncond.id) {
    cfg_batch_.reset();  // the old pair's join is not held beside the new one
    cfg_batch_ = std::make_shared<const CfgBatch>(
        CfgBatch{cond.id, uncond.id, join_contexts(cond, uncond, next_context_id())});
  }
  return cfg_batch_;
}

void WanTransformer::release_cfg_batch() const {
  std::lock_guard lock(cfg_batch_mutex_);
  cfg_batch_.reset();
}

std::pair<Tensor, Tensor> WanTransformer::forward_cfg(
    const Tensor& latents, std::span<const double> timesteps, const TextContext& cond,
    const TextContext& uncond, const AttentionMetadata* self_attention_metadata) const {
  if (!partner_) {
    const std::array<int64_t, 3> grid =
        latents.ndim() == 5 ? token_grid(latents) : std::array<int64_t, 3>{};
    if (grid[0] * grid[1] * grid[2] > cfg_batch_tokens_ || !joinable(cond, uncond)) {
      return {forward(latents, timesteps, cond, self_attention_metadata),
              forward(latents, timesteps, uncond, self_attention_metadata)};
    }
    // One forward over [cond batch; uncond batch]: every op is per batch item.
    const int64_t B = latents.size(0);
    const Tensor pair[] = {latents, latents};
    std::vector<double> both_timesteps(timesteps.begin(), timesteps.end());
    both_timesteps.insert(both_timesteps.end(), timesteps.begin(), timesteps.end());
    // Held for the forward: another thread's pair may replace the kept join meanwhile.
    const std::shared_ptr<const CfgBatch> joined = cfg_batch_context(cond, uncond);
    const Tensor out =
        forward(ops::concat(pair, 0), both_timesteps, joined->both, self_attention_metadata);
    return {out.slice(0, 0, B), out.slice(0, B, 2 * B)};
  }
  FV_CHECK(uncond.partner,
           "WanTransformer: the unconditional text context has no partner context: "
           "prepare it after enable_cfg_parallel");
  Tensor uncond_out;
  std::exception_ptr uncond_error;
  // Copied here, before the cond pass is queued: a copy made on the other thread would wait for
  // whatever of that pass the source device's stream held by then.
  const Tensor partner_latents = latents.to(partner_->device());
  std::thread other([&] {
    try {
      uncond_out =
          partner_->forward(partner_latents, timesteps, *uncond.partner, self_attention_metadata);
    } catch (...) {
      uncond_error = std::current_exception();
    }
  });
  Tensor cond_out;
  try {
    cond_out = forward(latents, timesteps, cond, self_attention_metadata);
  } catch (...) {
    other.join();
    throw;
  }
  other.join();
  if (uncond_error) std::rethrow_exception(uncond_error);
  return {cond_out, uncond_out.to(device())};
}

void WanTransformer::enable_sequence_parallel(std::vector<std::unique_ptr<WanTransformer>> replicas,
                                              std::vector<std::unique_ptr<Communicator>> group) {
  auto sp = std::make_shared<ReplicaGroup<WanTransformer>>(std::move(replicas), std::move(group),
                                                           "sequence parallelism", "transformer");
  const int P = sp->size();
  FV_CHECK(!graphs_ && !offload_,
           "sequence parallelism does not go together with compile mode or layerwise offload in "
           "this version");
  check_heads_divide(config_.num_attention_heads, P);
  for (const auto& r : sp->replicas()) {
    // On the CPU the replicas of sharded weights are other CPU models (each holds its rank's
    // pieces); on GPUs every replica has a GPU of its own.
    const bool own_device = r->device() != device() || (sharded_ && device().is_cpu());
    FV_CHECK(r->config_.num_attention_heads == config_.num_attention_heads &&
                 r->config_.num_layers == config_.num_layers && own_device,
             "sequence parallelism: a replica must be this transformer on another device, got one "
             "on ",
             r->device().name(), " beside the model on ", device().name());
  }
  // Sharded weights: rank r's model holds piece r of ranks == P, and every rank has its model.
  for (int r = 0; r < P && (sharded_ || !sp->replicas().empty()); ++r) {
    const WanTransformer* m = r == 0                   ? this
                              : sp->replicas().empty() ? nullptr
                                                       : sp->replicas()[size_t(r - 1)].get();
    const bool sharded = m && m->sharded_;
    FV_CHECK(sharded == bool(sharded_) &&
                 (!sharded || (m->sharded_->rank() == r && m->sharded_->ranks() == P)),
             "sequence parallelism over ", P, " ranks: rank ", r, "'s model ",
             !m ? std::string("is missing (sharded weights need one model per rank)")
             : !sharded
                 ? (sharded_ ? std::string("has whole weights beside sharded ones")
                             : std::string("has sharded weights beside whole ones"))
                 : str_cat("holds piece ", m->sharded_->rank(), " of ", m->sharded_->ranks()));
  }
  sequence_parallel_ = std::move(sp);
}

int WanTransformer::sequence_parallel_size() const {
  return sequence_parallel_ ? sequence_parallel_->size() : 1;
}

Tensor WanTransformer::forward_as_group(const Tensor& latents, std::span<const double> timesteps,
                                        const TextContext& text,
                                        const AttentionMetadata* metadata) const {
  const auto& replicas = sequence_parallel_->replicas();
  FV_CHECK(text.replicas.size() == replicas.size(), "WanTransformer: the text context holds ",
           text.replicas.size(), " replica contexts for ", replicas.size(),
           " replicas: prepare it after enable_sequence_parallel");
  Tensor out;
  const std::vector<Tensor> inputs = sequence_parallel_->to_each_rank(*this, latents);
  sequence_parallel_->run(*this, [&](const WanTransformer& m, Communicator& comm) {
    const int r = comm.rank();
    const TextContext& context = &m == this ? text : text.replicas[size_t(r - 1)];
    Tensor mine = m.forward(inputs[size_t(r)], timesteps, context, metadata, &comm);
    if (r == 0) out = std::move(mine);
  });
  return out;
}

Tensor WanTransformer::block_forward(const Block& block,
                                     const TextContext::CrossAttentionKV& text_kv, const Tensor& x,
                                     const Tensor& modulation, const Tensor& rope_cos,
                                     const Tensor& rope_sin, const AttentionMetadata* self_metadata,
                                     const SequenceRank* sequence_rank,
                                     const StartNextBlock& start_next) const {
  // wan21.md §1.5. modulation [6, B, D] f32: shift1, scale1, gate1, shift2, scale2, gate2, each a
  // contiguous [B, D].
  const int64_t B = x.size(0), S = x.size(1), D = x.size(2);
  const int64_t H = config_.num_attention_heads, hd = config_.attention_head_dim;
  const float eps = config_.eps;
  const float attn_scale = float(1.0 / std::sqrt(double(hd)));
  auto chunk = [&](int k) { return modulation.select(0, k); };
  auto heads = [&](const Tensor& t) { return t.reshape({B, t.size(1), H, hd}); };

  // (1) Self-attention: q/k RMSNorm over all heads (before the head split), then RoPE; each pair
  // is one fused op (layer_norm_modulate, rms_norm_rope) whose CPU twin is the plain composition.
  // Under Ulysses each of q, k, v and VSA's gate starts its trip to the head shards as soon as it
  // is made, overlapping the making of the next (issue 15).
  const Attention& sa = block.self_attn;
  std::vector<HeadsExchange> sent;
  sent.reserve(4);
  auto send = [&](Tensor t) {
    if (sequence_rank) sent.emplace_back(t, *sequence_rank->comm);
    return t;
  };
  // With FP8 linears the norms write FP8 rows (norm_fp8.h), one quantization for the linears
  // behind each.
  const bool fp8 = fp8_linears_;
  NormOutput h =
      block_norm(x, eps, chunk(0), chunk(1), /*modulate=*/true, fp8, block.gate_w.defined());
  Tensor q = send(ops::rms_norm_rope(h.linear(sa.to_q_w, sa.to_q_s, sa.to_q_b), eps, sa.norm_q,
                                     rope_cos, rope_sin, H));
  Tensor k = send(ops::rms_norm_rope(h.linear(sa.to_k_w, sa.to_k_s, sa.to_k_b), eps, sa.norm_k,
                                     rope_cos, rope_sin, H));
  Tensor v = send(heads(h.linear(sa.to_v_w, sa.to_v_s, sa.to_v_b)));
  // VSA's gate G = to_gate_compress(norm1 output) (fastvideo.md §3.3); undefined means G = 0.
  AttentionExtras extras;
  extras.proj_l_weight = block.proj_l_w;
  extras.proj_l_bias = block.proj_l_b;
  extras.layer = block.index;
  if (block.gate_w.defined())
    extras.gate = send(heads(ops::linear(h.h, block.gate_w, block.gate_b)));
  h = {};
  // Sharded weights: the next block's gather queues behind these exchanges on the group's stream.
  if (start_next) start_next();
  Tensor a;
  if (sequence_rank) {
    // Ulysses: the backend sees every token of this rank's heads (the gate traded like q, k, v).
    Communicator& comm = *sequence_rank->comm;
    const SequenceShard& shard = sequence_rank->shard;
    FV_CHECK(q.size(1) == shard.end - shard.begin, "sequence parallelism: block input has ",
             q.size(1), " tokens, this rank's shard ", shard.end - shard.begin);
    // The exchanges hold what they send: the local shards are not needed any more.
    q = k = v = extras.gate = Tensor();
    if (sent.size() > 3) extras.gate = sent[3].finish().slice(1, 0, shard.tokens).contiguous();
    extras.first_head = int(comm.rank() * H / comm.size());
    a = ulysses_attention(sent[0], sent[1], sent[2], shard, comm,
                          [&](const Tensor& wq, const Tensor& wk, const Tensor& wv) {
                            return self_attention_->run(wq, wk, wv, attn_scale, self_metadata,
                                                        extras);
                          });
  } else {
    a = self_attention_->run(q, k, v, attn_scale, self_metadata, extras);
  }
  a = a.reshape({B, S, D});
  // Each residual sum below is made by the norm that follows it, in its pass.
  auto [out, h2] =
      residual_block_norm(x, block_linear(a, sa.to_out_w, sa.to_out_s, sa.to_out_b), chunk(2), eps,
                          block.norm2_w, block.norm2_b, /*modulate=*/false, fp8);

  // (2) Cross-attention: affine norm2, no modulation, no gate, no RoPE; K/V cached per prompt.
  const Attention& ca = block.cross_attn;
  q = ops::rms_norm(h2.linear(ca.to_q_w, ca.to_q_s, ca.to_q_b), eps, ca.norm_q);
  h2 = {};
  a = cross_attention_->run(heads(q), text_kv.k, text_kv.v, attn_scale).reshape({B, S, D});
  std::tie(out, h) =
      residual_block_norm(out, block_linear(a, ca.to_out_w, ca.to_out_s, ca.to_out_b), Tensor(),
                          eps, chunk(3), chunk(4), /*modulate=*/true, fp8);

  // (3) Feed-forward D -> F -> D with tanh GELU.
  Tensor f;
  if (h.rows && block.ffn_in_s.defined() && block.ffn_in_s.ndim() == 1 &&
      block.ffn_out_s.defined() && block.ffn_out_s.ndim() == 2) {
    // FP8 with a block-scaled down projection: the up projection quantizes its GELU output for
    // it in 128-wide groups as it writes (ops::fp8_linear_gelu_groups), no bf16 tensor between.
    const ops::Fp8Groups up =
        ops::fp8_linear_gelu_groups(*h.rows, {block.ffn_in_w, block.ffn_in_s}, block.ffn_in_b);
    f = ops::fp8_block_linear(up, B * S, {block.ffn_out_w, block.ffn_out_s}, block.ffn_out_b)
            .reshape({B, S, D});
  } else {
    f = block_linear(h.linear(block.ffn_in_w, block.ffn_in_s, block.ffn_in_b, true),
                     block.ffn_out_w, block.ffn_out_s, block.ffn_out_b);
  }
  return ops::gated_residual(out, f, chunk(5));
}

Tensor WanTransformer::forward(const Tensor& latents, std::span<const double> timesteps,
                               const TextContext& text,
                               const AttentionMetadata* self_attention_metadata,
                               Communicator* sequence_parallel) const {
  if (!sequence_parallel && sequence_parallel_) {
    return forward_as_group(latents, timesteps, text, self_attention_metadata);
  }
  const auto& patch = config_.patch_size;
  FV_CHECK(latents.ndim() == 5 && latents.size(1) == config_.in_channels,
           "WanTransformer: latents must be [B, ", config_.in_channels, ", T, H, W], got ",
           latents.describe());
  const int64_t B = latents.size(0);
  for (int a = 0; a < 3; ++a) {
    FV_CHECK(latents.size(2 + a) % patch[a] == 0, "WanTransformer: latents ", latents.describe(),
             " are not divisible by the patch size [", patch[0], ",", patch[1], ",", patch[2], "]");
  }
  FV_CHECK(int64_t(timesteps.size()) == B, "WanTransformer: ", timesteps.size(),
           " timesteps for a batch of ", B);
  FV_CHECK(text.batch() == B && int64_t(text.blocks.size()) == config_.num_layers,
           "WanTransformer: text context has batch ", text.batch(), " and ", text.blocks.size(),
           " blocks; expected batch ", B, " and ", config_.num_layers, " blocks");
  FV_CHECK(latents.device() == device(), "WanTransformer: latents are on ", latents.device().name(),
           ", the model on ", device().name());
  const ops::GemmAutotuneScope autotune(gemm_autotune_);
  // wan21.md §1.3: the sinusoid of the timesteps, in f32 (the time embedder's dtype, §1.2), made
  // on the model's device without a copy that would wait for its queue.
  const Tensor sinusoid =
      ops::timestep_embedding(timesteps, config_.freq_dim, device()).to(time_1_w_.dtype());
  // §4.1: the pipeline hands the transformer its latents in the transformer dtype.
  const Tensor x = latents.to(activation_dtype());
  if (sequence_parallel) {
    FV_CHECK(!graphs_ && !offload_,
             "sequence parallelism does not go together with compile mode or layerwise offload "
             "in this version");
    check_heads_divide(config_.num_attention_heads, sequence_parallel->size());
    return forward_embedded(x, sinusoid, text, self_attention_metadata, sequence_parallel);
  }
#ifdef FASTVIDEO_HAVE_CUDA
  // The key is text built per call: only compile mode asks for it.
  const std::optional<std::string> key = !graphs_ ? std::nullopt
                                         : self_attention_metadata
                                             ? self_attention_metadata->graph_key()
                                             : std::string();
  if (key) {
    return graphs_->forward(x, sinusoid, text, *key,
                            [&](const Tensor& l, const Tensor& s, const TextContext& t) {
                              return forward_embedded(l, s, t, self_attention_metadata);
                            });
  }
#endif
  return forward_embedded(x, sinusoid, text, self_attention_metadata);
}

std::array<int64_t, 3> WanTransformer::token_grid(const Tensor& latents) const {
  const auto& patch = config_.patch_size;
  return {latents.size(2) / patch[0], latents.size(3) / patch[1], latents.size(4) / patch[2]};
}

Tensor WanTransformer::forward_embedded(const Tensor& latents, const Tensor& sinusoid,
                                        const TextContext& text,
                                        const AttentionMetadata* self_attention_metadata,
                                        Communicator* sequence_parallel) const {
  const auto& patch = config_.patch_size;
  const int64_t B = latents.size(0);
  const std::array<int64_t, 3> grid = token_grid(latents);
  const int64_t D = config_.inner_dim();
  const DType act = activation_dtype();
  // VSA reads each tile as consecutive rows: the rows then go through the blocks in its tile
  // order (gathered after the patch embedding, put back before the head), every op but the
  // self-attention being per row and RoPE's tables gathered alike.
  const TokenTiling* order =
      self_attention_metadata ? self_attention_metadata->row_order() : nullptr;
  FV_CHECK(!order || order->grid == grid,
           "WanTransformer: the attention metadata's tile order is for token grid [",
           order ? order->grid[0] : 0, ", ", order ? order->grid[1] : 0, ", ",
           order ? order->grid[2] : 0, "], the latents give [", grid[0], ", ", grid[1], ", ",
           grid[2], "]");
  const RopeCache rope = rope_for(grid, order);

  // wan21.md §1.3: temb = MLP(sinusoid(t)); tproj = time_proj(SiLU(temb)) as [B, 6, D]. §1.2: the
  // MLP runs in f32 (the time embedder's dtype), and temb is cast to the activation dtype before
  // time_proj and the head.
  Tensor temb =
      ops::linear(ops::silu(ops::linear(sinusoid, time_1_w_, time_1_b_)), time_2_w_, time_2_b_)
          .to(act);
  Tensor tproj =
      ops::linear(ops::silu(temb), time_proj_w_, time_proj_b_).reshape({B, 6, D}).to(DType::F32);

  Tensor x = ops::linear(ops::patchify(latents, patch), patch_w_, patch_b_);  // [B, S, D]
  Tensor rope_cos = rope.cos, rope_sin = rope.sin;
  if (order) {
    x = ops::gather_rows(x, rope.to_tile_order);
    rope_cos = rope.tiled_cos;
    rope_sin = rope.tiled_sin;
  }

  // Sequence parallelism: this rank's tokens (and their RoPE rows) through the blocks.
  std::optional<SequenceRank> rank;
  if (sequence_parallel) {
    rank = SequenceRank{sequence_parallel, SequenceShard::of(x.size(1), sequence_parallel->rank(),
                                                             sequence_parallel->size())};
    x = shard_sequence(x, rank->shard);
    const auto local_rows = [&](const Tensor& table) {
      return shard_sequence(table.unsqueeze(0), rank->shard).select(0, 0);
    };
    rope_cos = local_rows(rope_cos);
    rope_sin = local_rows(rope_sin);
  }
  for_each_block(
      [&](const Block& block, const StartNextBlock& start_next) {
        if (device().is_cpu() && !sequence_parallel) {
          check_stop(stop_,
                     str_cat("transformer block ", block.index + 1, " of ", config_.num_layers));
        }
        // §1.5: e = scale_shift_table + tproj in f32, laid out [6, B, D] so each chunk is
        // contiguous.
        Tensor modulation =
            ops::add(repeat_over_batch(block.modulation, B), tproj).permute({1, 0, 2}).contiguous();
        x = block_forward(block, text.blocks[size_t(block.index)], x, modulation, rope_cos,
                          rope_sin, self_attention_metadata, rank ? &*rank : nullptr, start_next);
        if (block_probe_) block_probe_(block.index, x);
      },
      sequence_parallel);
  if (rank) x = gather_sequence(x, rank->shard, *sequence_parallel);
  if (order) x = ops::gather_rows(x, rope.to_raster);

  // wan21.md §1.6: the head modulates with temb itself (not tproj), rows (shift, scale).
  Tensor head =
      ops::add(repeat_over_batch(head_modulation_, B), repeat_over_rows(temb.to(DType::F32), 2))
          .permute({1, 0, 2})
          .contiguous();
  Tensor y = ops::modulate(ops::layer_norm(x, config_.eps), head.select(0, 0), head.select(0, 1));
  y = ops::linear(y, proj_out_w_, proj_out_b_);  // [B, S, patch·out_channels], (ph, pw, c) order
  return ops::unpatchify(y, grid, patch);
}

void WanTransformer::enable_compile() {
  FV_CHECK(!block_probe_, "compile mode replays captured forwards, which a block probe cannot see");
  FV_CHECK(!partner_,
           "compile mode (enable_torch_compile) and CFG-parallel (num_gpus = 2 x sp_size) do not "
           "go together in this version; turn one off");
  FV_CHECK(!sequence_parallel_,
           "compile mode (enable_torch_compile) and sequence parallelism (num_gpus > 1) do not go "
           "together in this version; turn one off");
  FV_CHECK(!offload_,
           "compile mode (enable_torch_compile) and dit_layerwise_offload do not go together in "
           "this version (a CUDA graph cannot wait on the weight copies' stream); turn one off");
  FV_CHECK(!sharded_,
           "compile mode (enable_torch_compile) and use_fsdp_inference (sharded weights) do not go "
           "together in this version; turn one off");
  FV_CHECK(!device().is_cpu(),
           "compile mode (enable_torch_compile) captures CUDA graphs; the "
           "transformer is on ",
           device().name(), ", so it needs a GPU (device=cuda, --device cuda)");
#ifdef FASTVIDEO_HAVE_CUDA
  if (!graphs_) graphs_ = std::make_shared<WanForwardGraphs>();
#else
  fail("compile mode (enable_torch_compile) needs the CUDA backend, and this build has none");
#endif
}

void WanTransformer::set_gemm_autotune(bool on) {
  FV_CHECK(!on || !device().is_cpu(),
           "GEMM autotuning (compile mode max-autotune) times cuBLASLt's GEMMs; the transformer is "
           "on ",
           device().name(), ", so it needs a GPU (device=cuda, --device cuda)");
  FV_CHECK(!on || (!sequence_parallel_ && !partner_),
           "GEMM autotuning (compile mode max-autotune) times each new GEMM on a device that must "
           "not wait for another GPU meanwhile: not with sequence parallelism or CFG-parallel in "
           "this version; use mode reduce-overhead there");
  gemm_autotune_ = on;
}

void WanTransformer::set_block_probe(std::function<void(int, const Tensor&)> probe) {
  FV_CHECK(!graphs_, "a block probe sees eager forwards only, and compile mode is on");
  block_probe_ = std::move(probe);
}

void WanTransformer::quantize_linears_fp8() {
  FV_CHECK(!offload_,
           "transformer_quant FP8 and dit_layerwise_offload do not go together in this version "
           "(the streamed blocks would need their FP8 copies made on the host); turn one off");
  FV_CHECK(!sharded_,
           "transformer_quant FP8 and use_fsdp_inference (sharded weights) do not go together in "
           "this version (the pieces would need FP8 copies made on the host); turn one off");
  FV_CHECK(!graphs_, "transformer_quant FP8: quantize before compile mode captures the forward");
  if (sequence_parallel_) {
    for (const auto& replica : sequence_parallel_->replicas()) replica->quantize_linears_fp8();
  }
  FV_CHECK(!partner_, "transformer_quant FP8: quantize before CFG-parallel pairs the models");
  if (fp8_linears_) return;
  const auto quantize = [](Tensor& weight, Tensor& scales) {
    ops::Fp8Rows q = ops::quantize_rows_fp8(weight);
    weight = std::move(q.values);
    scales = std::move(q.scales);
  };
  // FFN down in 128×128 blocks where the device serves them: its input, the GELU output, has no
  // norm that quantizes it per row anyway, and on Hopper this GEMM ran 15 % faster so (the
  // fp8_linear.h note). The other linears keep row scales: their norms quantize per row.
  // cuBLASLt is asked once, with a few rows of zeros, whether it plans that GEMM (a cuBLAS older
  // than 12.9 has no such scales): if not, row scales, said once.
  std::optional<bool> blocks_planned;
  const auto quantize_blocks_where_served = [&](Tensor& weight, Tensor& scales) {
    if (!ops::fp8_blocks_supported(weight.device(), weight.size(0), weight.size(1))) {
      return quantize(weight, scales);
    }
    ops::Fp8Blocks q = ops::quantize_blocks_fp8(weight);
    if (!blocks_planned) {
      try {
        ops::fp8_block_linear(Tensor::zeros({16, weight.size(1)}, weight.dtype(), weight.device()),
                              q, Tensor());
        blocks_planned = true;
      } catch (const Error& e) {
        log::warning("transformer_quant FP8: the FFN's down projection keeps row scales: ",
                     e.what());
        blocks_planned = false;
      }
    }
    if (!*blocks_planned) return quantize(weight, scales);
    weight = std::move(q.values);
    scales = std::move(q.scales);
  };
  for (Block& block : blocks_) {
    for (Attention* a : {&block.self_attn, &block.cross_attn}) {
      quantize(a->to_q_w, a->to_q_s);
      quantize(a->to_k_w, a->to_k_s);
      quantize(a->to_v_w, a->to_v_s);
      quantize(a->to_out_w, a->to_out_s);
    }
    quantize(block.ffn_in_w, block.ffn_in_s);
    quantize_blocks_where_served(block.ffn_out_w, block.ffn_out_s);
  }
  if (blocks_planned.value_or(false)) {
    log::info(
        "transformer_quant FP8: the FFN's down projection in 128×128-block and 128-wide "
        "token scales");
  }
  fp8_linears_ = true;
}

WanTransformer::CompileStats WanTransformer::compile_stats() const {
#ifdef FASTVIDEO_HAVE_CUDA
  if (graphs_) return graphs_->stats();
#endif
  return {};
}

WanTransformer::RopeCache WanTransformer::rope_for(std::array<int64_t, 3> grid,
                                                   const TokenTiling* order) const {
  std::lock_guard lock(rope_mutex_);
  if (!graphs_ && !rope_cache_.count(grid)) rope_cache_.clear();  // eager: the latest grid only
  RopeCache& entry = rope_cache_[grid];
  if (!entry.cos.defined()) {
    WanRopeTables tables =
        wan_rope_tables(grid, config_.attention_head_dim, config_.rope_max_seq_len, device());
    entry.cos = std::move(tables.cos);
    entry.sin = std::move(tables.sin);
  }
  if (order && !entry.to_tile_order.defined()) {
    const int64_t S = order->tokens;
    entry.to_tile_order = Tensor::from_vector_i32(order->token_of_row, {S}).to(device());
    entry.to_raster = Tensor::from_vector_i32(order->row_of_token, {S}).to(device());
    const auto tiled = [&](const Tensor& table) {
      return ops::gather_rows(table.unsqueeze(0), entry.to_tile_order).select(0, 0).contiguous();
    };
    entry.tiled_cos = tiled(entry.cos);
    entry.tiled_sin = tiled(entry.sin);
  }
  return entry;
}

}  // namespace fastvideo
