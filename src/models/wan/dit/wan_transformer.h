// Wan2.1 diffusion transformer (diffusers WanTransformer3DModel), wan21.md §1. Predicts the flow
// velocity of video latents given a timestep and UMT5 text embeddings. The model runs where its
// weights are: on the CPU everything is f32; on a GPU it follows the diffusers bf16 path (§1.2):
// bf16 activations and residual stream, the time MLP, modulation tables and norm2 in f32.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attention/attention_backend.h"
#include "attention/attention_registry.h"
#include "core/compile_stats.h"
#include "core/stop_flag.h"
#include "core/tensor.h"
#include "io/weights.h"
#include "models/wan/dit/wan_transformer_config.h"
#include "parallel/communicator.h"
#include "parallel/replica_group.h"
#include "parallel/ulysses.h"

namespace fastvideo {

class WanForwardGraphs;
class LayerwiseOffload;
class LayerLayout;
class ShardedLayers;

// Layerwise offload (FastVideo's dit_layerwise_offload, fastvideo.md §6.2): the blocks' weights
// stay in host memory and stream to `device` a block ahead of use through `resident_blocks`
// device slots; every other weight is resident there.
struct WanLayerwiseOffload {
  Device device = Device::cuda();
  int resident_blocks = 2;
  // Page-locked host copies of the blocks; otherwise each copy streams from the tensors given
  // (LayerwiseOffload's two modes).
  bool pin_cpu_memory = true;
};

// Sharded weights (FastVideo's use_fsdp_inference, issue 15): this model is rank `rank` of a
// sequence-parallel group of `ranks` and keeps a 1/ranks piece of every block's weights on
// `device` (runtime/sharded_layers.h); each forward gathers a block from all ranks just before it
// runs. The other weights are whole on every rank.
struct WanWeightSharding {
  Device device = Device::cuda();
  int rank = 0, ranks = 1;
};

// Where a checkpoint keeps VSA's per-block gate to_gate_compress (fastvideo.md §3.3: a Linear D ->
// D with bias, in VSA-trained checkpoints such as FastWan), if anywhere.
enum class VsaGateLayout {
  Absent,
  InAttention,  // blocks.N.attn1.to_gate_compress.{weight,bias}
  InBlock,      // blocks.N.to_gate_compress.{weight,bias}
};
std::string_view vsa_gate_prefix(VsaGateLayout layout);  // "attn1.to_gate_compress", ...

// The layout the tensor names show: every block or none must have the gate, under one name;
// otherwise an error naming the first block that breaks the rule.
VsaGateLayout find_vsa_gate_layout(const std::set<std::string>& tensor_names, int num_layers);

// SLA's per-block proj_l (fastvideo.md §4.3: Linear(head_dim, head_dim), f32, zero-initialised),
// stored under FastVideo's module path blocks.N.attn1.attn_impl.proj_l.{weight,bias} (its Wan
// param_names_mapping has no rule for it). True when every block has it, false when none does;
// otherwise an error naming the first block that breaks the rule.
inline constexpr std::string_view kSlaProjLPrefix = "attn1.attn_impl.proj_l";
bool find_sla_proj_l(const std::set<std::string>& tensor_names, int num_layers);

// The per-block tensors a checkpoint adds for sparse backends, and whether the self-attention
// backend reads them (unread ones are still checked for shape).
struct WanBlockExtras {
  VsaGateLayout gate = VsaGateLayout::Absent;
  bool load_gate = true;
  bool proj_l = false;
  bool load_proj_l = true;
};

// Every tensor of the checkpoint with its shape (wan21.md §1.1): 15 top-level + 27 per block, plus
// the per-block extras present (VSA's gate: 2 tensors of D; SLA's proj_l: 2 of the head dim). The
// loader validates checkpoints against this table and the tiny-model writer emits it.
std::vector<TensorSpec> wan_transformer_specs(const WanTransformerConfig& config,
                                              const WanBlockExtras& extras = {});

// The tensors diffusers keeps in f32 when it loads the model in bf16 (wan21.md §1.2): those whose
// dotted name has a component rope, time_embedder, scale_shift_table, norm1, norm2 or norm3, i.e.
// condition_embedder.time_embedder.*, every scale_shift_table and blocks.*.norm2.weight/bias.
// With `extras`, SLA's proj_l too (an f32 Linear in FastVideo whatever the model's dtype). Pass
// it to load_component as the keep_f32 set.
std::set<std::string> wan_transformer_fp32_names(const WanTransformerConfig& config,
                                                 const WanBlockExtras& extras = {});

// Up to how many latent tokens forward_cfg runs the two CFG passes as one forward of twice the
// batch by default. Measured on an H200 with the 1.3B model (docs/perf.md, "CFG passes as one
// batch"): the batch is 1.17× faster per step at 1,280 tokens and 2 % at 17,160, but 0.7 %
// slower at 32,760 (480p, 81 frames), where it also needs 1.6 GiB more; the limit lies between.
inline constexpr int64_t kCfgBatchTokens = 20000;

class WanTransformer {
 public:
  // Checks every tensor of wan_transformer_specs(config) is present with its shape, and that all
  // are on one device: f32 on the CPU, any float dtype on a GPU (bf16 plus the f32 keep-list as
  // load_component gives them). Self-attention runs `self_attention` (DESIGN §4: the resolved
  // backend); cross-attention runs `cross_attention`, which must be dense (fastvideo.md §2.4).
  // A self-attention backend that takes a gate (VIDEO_SPARSE_ATTN) gets G = to_gate_compress(norm1
  // output) from the weights' gate tensors (either name of VsaGateLayout), or G = 0 when the
  // weights have none, as FastVideo zero-initialises them; which it was is logged once.
  // With `offload` the blocks' weights are CPU tensors of any float dtype (e.g. views into the
  // checkpoint's mapping, as load_component's mapped_prefix leaves them): they are converted to
  // the other weights' dtype (the f32 keep-list and SLA's proj_l to f32) as they are pinned or
  // streamed. The other weights are on offload->device or the CPU (then moved there).
  // With `sharding` the blocks' weights are CPU tensors as with `offload`, of which this rank
  // converts and keeps its piece on sharding->device; the other weights are on that device or the
  // CPU (then moved there). Not with `offload`. Such a model runs only as its rank of a group
  // (enable_sequence_parallel with the other ranks' models as replicas, or forward with a
  // communicator): a forward gathers the blocks over it.
  WanTransformer(WanTransformerConfig config, Weights weights,
                 const AttentionBackend& self_attention = torch_sdpa_backend(),
                 const AttentionBackend& cross_attention = torch_sdpa_backend(),
                 const std::optional<WanLayerwiseOffload>& offload = std::nullopt,
                 const std::optional<WanWeightSharding>& sharding = std::nullopt);
  ~WanTransformer();

  // What the prompt contributes to every denoising step, computed once per prompt: the text
  // MLP output and, per block, the cross-attention keys (RMS-normed) and values, which depend
  // only on the prompt (wan21.md §1.5, optimization note).
  struct TextContext {
    struct CrossAttentionKV {
      Tensor k, v;  // [B, text_len, heads, head_dim]
    };
    Tensor text;                           // [B, text_len, D], after the text MLP
    std::vector<CrossAttentionKV> blocks;  // one per transformer block
    uint64_t id = 0;  // unique per prepare_text call: compile mode copies a new context in
    // With sequence parallelism over replicas: each replica's context, on its device.
    std::vector<TextContext> replicas;
    // With CFG-parallel: the partner's context (on its devices). A shared_ptr, as a struct cannot
    // hold itself.
    std::shared_ptr<const TextContext> partner;
    int64_t batch() const { return text.size(0); }
  };
  // context [B, text_len (512), text_dim] on the model's device, any float dtype (cast to the
  // activation dtype, as the pipeline casts prompt embeddings): UMT5 output, zero-padded rows
  // included (§1.3). With `sequence_parallel` this call is one rank of a group that all prepare
  // the same context, as forward's (a model with sharded weights gathers its blocks over it).
  TextContext prepare_text(const Tensor& context, Communicator* sequence_parallel = nullptr) const;

  // latents [B, in_channels, T, H, W] on the model's device, any float dtype (cast to the
  // activation dtype), one timestep per batch item, a TextContext of the same batch size ->
  // velocity [B, out_channels, T, H, W] in the activation dtype. self_attention_metadata: this
  // step's self_attention().build_metadata(...) (null for dense backends).
  // With `sequence_parallel` (issue 15, parallel/ulysses.h): this call is one rank of a group that
  // all run forward on the same inputs; each computes the blocks on its shard of the tokens, with
  // an all-to-all around every self-attention, and every rank returns the whole output. Heads must
  // divide by the ranks. Not with compile mode or layerwise offload (refused).
  Tensor forward(const Tensor& latents, std::span<const double> timesteps, const TextContext& text,
                 const AttentionMetadata* self_attention_metadata = nullptr,
                 Communicator* sequence_parallel = nullptr) const;

  // Sequence parallelism as a mode (issue 15): from now on a forward() without a communicator
  // runs as every rank of `group` at once (parallel/communicator.h's run_ranks), rank 0 on this
  // model and rank r on replicas[r − 1] (the same weights, each on its own GPU), or on this model
  // for every rank when there are no replicas (the CPU's threads), and returns rank 0's output.
  // prepare_text then prepares each replica's context too. One forward at a time. Heads must
  // divide by the ranks; not with compile mode or layerwise offload (refused). A failed rank
  // leaves the group stopped: later forwards throw naming it. With sharded weights this model is
  // rank 0 and replicas[r − 1] rank r of as many ranks as the group has (on the CPU too: then the
  // replicas are other CPU models), and prepare_text runs as the group.
  void enable_sequence_parallel(std::vector<std::unique_ptr<WanTransformer>> replicas,
                                std::vector<std::unique_ptr<Communicator>> group);
  int sequence_parallel_size() const;

  // CFG-parallel (issue 15): `partner`, the same transformer on other devices (itself sequence-
  // parallel over its own GPUs or not), runs the unconditional pass of forward_cfg while this
  // model runs the conditional one. prepare_text then prepares the partner's context too. Not with
  // compile mode or layerwise offload (refused).
  void enable_cfg_parallel(std::unique_ptr<WanTransformer> partner);
  bool cfg_parallel() const { return partner_ != nullptr; }
  // forward_cfg's batching of the two passes (issue 11): up to `tokens` latent tokens per video
  // (0: never; kCfgBatchTokens by default).
  void set_cfg_batch_tokens(int64_t tokens) { cfg_batch_tokens_ = tokens; }
  int64_t cfg_batch_tokens() const { return cfg_batch_tokens_; }
  // Drops forward_cfg's joined context (twice one prompt's K/V): the pipeline's denoise stage
  // calls it when its loop ends, so it is not held through the decode.
  void release_cfg_batch() const;
  // Both CFG passes on the same latents: (cond, uncond), each as forward() gives it, on this
  // model's device. With a partner the two run at once, the uncond one on the partner; without,
  // as one forward of twice the batch when the latents have at most cfg_batch_tokens() tokens
  // and the contexts are alike (the two joined once per pair of prompts and kept until
  // release_cfg_batch or the next pair), else one after the other.
  std::pair<Tensor, Tensor> forward_cfg(const Tensor& latents, std::span<const double> timesteps,
                                        const TextContext& cond, const TextContext& uncond,
                                        const AttentionMetadata* self_attention_metadata) const;

  // Compile mode (FastVideo's enable_torch_compile; ours captures CUDA graphs, issue 11): from
  // now on the first forward of each input shape and attention metadata runs eagerly and is then
  // captured into a CUDA graph, which every later forward of that kind replays. The same results
  // as eager. A model on the CPU, or a build without CUDA, is refused.
  void enable_compile();
  bool compiled() const { return graphs_ != nullptr; }
  // torch.compile's mode "max-autotune" (ops/gemm_autotune.h): each new GEMM shape of a forward
  // times cuBLASLt's candidate algorithms once and keeps the fastest. One thread per device only:
  // not with sequence parallelism or CFG-parallel (refused), whose ranks wait on each other.
  void set_gemm_autotune(bool on);
  // FastVideo's transformer_quant FP8 (issue 11, ops/fp8_linear.h): the blocks' attention and
  // feed-forward linears (to_q, to_k, to_v, to_out of both attentions, ffn in and out) become E4M3
  // weights with a scale per output channel, now, and their inputs are quantized per token at each
  // call. The embeddings, proj_out, VSA's gate and SLA's proj_l stay in the model's dtype. Before
  // compile mode; not with layerwise offload (refused).
  void quantize_linears_fp8();
  bool fp8_linears() const { return fp8_linears_; }
  // For tests and benchmarks that compare layers: probe(block index, its output [B, S, D]) after
  // every block of each eager forward (under VSA the rows in its tile order); empty: none. Not in
  // compile mode (refused).
  void set_block_probe(std::function<void(int, const Tensor&)> probe);
  // From now on a forward on the CPU polls `stop` before each block: a stop request ends it with
  // Cancelled within a block rather than after the whole step, which on the CPU takes minutes at
  // real size. Not on a GPU, where a step takes a second and the host only queues the blocks, nor
  // as a rank of a sequence-parallel group, whose ranks must reach every all-to-all together.
  // Null: never polled.
  void watch_stop(const StopFlag* stop) { stop_ = stop; }
  bool layerwise_offloaded() const { return offload_ != nullptr; }
  bool sharded_weights() const { return sharded_ != nullptr; }
  using CompileStats = fastvideo::CompileStats;
  CompileStats compile_stats() const;

  const WanTransformerConfig& config() const { return config_; }
  Device device() const { return patch_w_.device(); }
  // The dtype of activations and outputs: the patch embedding's (f32 on the CPU, bf16 on a GPU).
  DType activation_dtype() const { return patch_w_.dtype(); }
  const AttentionBackend& self_attention() const { return *self_attention_; }

 private:
  struct Attention {
    Tensor to_q_w, to_q_b, to_k_w, to_k_b, to_v_w, to_v_b, to_out_w, to_out_b, norm_q, norm_k;
    Tensor to_q_s, to_k_s, to_v_s, to_out_s;  // FP8 weights' scales (quantize_linears_fp8)
  };
  struct Block {
    Tensor modulation;  // scale_shift_table as [6, D]
    Attention self_attn, cross_attn;
    Tensor norm2_w, norm2_b;
    Tensor ffn_in_w, ffn_in_b, ffn_out_w, ffn_out_b;
    Tensor gate_w, gate_b;       // VSA's to_gate_compress; undefined: G = 0
    Tensor proj_l_w, proj_l_b;   // SLA's proj_l (f32); undefined: zero
    int index = 0;               // blocks.N: which backends with per-layer settings read (STA)
    Tensor ffn_in_s, ffn_out_s;  // FP8 scales (quantize_linears_fp8; ffn_out_s 2-D: blocks)
  };

  struct RopeCache {
    Tensor cos, sin;  // on the model's device
    // VSA's tile order (AttentionMetadata::row_order), made at its first use: the row gathers
    // into it and back (I32 [S]) and the tables' rows in it.
    Tensor to_tile_order, to_raster, tiled_cos, tiled_sin;
  };

  // A block's defined weights in one fixed order: layerwise offload streams them as one layer,
  // sharded weights cut them as one.
  static std::vector<Tensor*> block_tensors(Block& block);
  // The layout of `block`'s weights with each in the dtype of its member in `dtypes`; also makes
  // block_template_ (the defined members).
  LayerLayout block_layout(Block& block, const Block& dtypes);
  // Layerwise offload: block i's host weights to the stream (the first call creates it), each to
  // reach the GPU in the dtype of its member in `dtypes`.
  void stream_block(int i, Block& block, const Block& dtypes, const WanLayerwiseOffload& offload);
  // Sharded weights: this rank's piece of block i's host weights (the first call creates the
  // shards), in `dtypes` as above.
  void shard_block(int i, Block& block, const Block& dtypes, const WanWeightSharding& sharding);
  // Runs fn(block, start_next) over the blocks in order. In layerwise offload each block's weights
  // are streamed in just before, and its slot handed on once fn has queued the block's work; with
  // sharded weights each block is gathered over `group` (this model's rank) before it runs: the
  // next block's gather starts when fn calls start_next (block_forward does once its own
  // attention exchanges are queued on the group's stream, so they are not held up behind it), or
  // else when fn returns. start_next does nothing otherwise, and nothing after its first call.
  using StartNextBlock = std::function<void()>;
  void for_each_block(const std::function<void(const Block&, const StartNextBlock&)>& fn,
                      Communicator* group = nullptr) const;
  // This rank's part of prepare_text: the text MLP and every block's cross-attention K/V on this
  // model (sharded weights: gathered over `group`).
  TextContext prepare_rank_text(const Tensor& context, Communicator* group) const;

  // The patch grid of latents [B, C, T, H, W]: (T, H, W) over the patch size.
  std::array<int64_t, 3> token_grid(const Tensor& latents) const;
  // forward() from the patch embedding on: latents in the activation dtype, the timesteps'
  // sinusoid [B, freq_dim] on the model's device in the time embedder's dtype.
  Tensor forward_embedded(const Tensor& latents, const Tensor& sinusoid, const TextContext& text,
                          const AttentionMetadata* self_attention_metadata,
                          Communicator* sequence_parallel = nullptr) const;
  // A rank's place in sequence parallelism, for block_forward.
  struct SequenceRank {
    Communicator* comm;
    SequenceShard shard;
  };
  Tensor block_forward(const Block& block, const TextContext::CrossAttentionKV& text_kv,
                       const Tensor& x, const Tensor& modulation, const Tensor& rope_cos,
                       const Tensor& rope_sin, const AttentionMetadata* self_metadata,
                       const SequenceRank* sequence_rank = nullptr,
                       const StartNextBlock& start_next = {}) const;
  // The RoPE tables for `grid`, built once per grid on the model's device (§1.4: f32, not cast)
  // and, in compile mode, kept for every grid: a captured graph reads them where they were.
  RopeCache rope_for(std::array<int64_t, 3> grid, const TokenTiling* order = nullptr) const;

  WanTransformerConfig config_;
  const AttentionBackend* self_attention_;
  const AttentionBackend* cross_attention_;
  Tensor patch_w_, patch_b_;  // patch embedding as a linear: [D, C·pt·ph·pw], [D]
  Tensor time_1_w_, time_1_b_, time_2_w_, time_2_b_, time_proj_w_, time_proj_b_;
  Tensor text_1_w_, text_1_b_, text_2_w_, text_2_b_;
  Tensor head_modulation_;  // scale_shift_table as [2, D]: (shift, scale)
  Tensor proj_out_w_, proj_out_b_;
  std::vector<Block> blocks_;  // empty in layerwise offload
  // Layerwise offload: the blocks' weights in host memory; sharded weights: this rank's pieces.
  // Either way block_template_ holds the members each block's tensors fill in as it runs.
  std::shared_ptr<LayerwiseOffload> offload_;
  std::shared_ptr<ShardedLayers> sharded_;
  Block block_template_;
  std::vector<std::string> block_member_names_;  // a streamed or sharded block's, for messages
  mutable std::mutex rope_mutex_;
  mutable std::map<std::array<int64_t, 3>, RopeCache> rope_cache_;
  std::shared_ptr<WanForwardGraphs> graphs_;                         // compile mode; null: eager
  std::shared_ptr<ReplicaGroup<WanTransformer>> sequence_parallel_;  // null: one rank
  std::shared_ptr<const WanTransformer> partner_;                    // CFG-parallel; null: none
  // forward() as every rank of sequence_parallel_.
  Tensor forward_as_group(const Tensor& latents, std::span<const double> timesteps,
                          const TextContext& text, const AttentionMetadata* metadata) const;
  bool fp8_linears_ = false;
  bool gemm_autotune_ = false;
  std::function<void(int, const Tensor&)> block_probe_;
  const StopFlag* stop_ = nullptr;  // watch_stop
  int64_t cfg_batch_tokens_ = kCfgBatchTokens;
  // forward_cfg's batched context for the last (cond, uncond) pair, by their ids.
  struct CfgBatch {
    uint64_t cond = 0, uncond = 0;
    TextContext both;
  };
  mutable std::mutex cfg_batch_mutex_;
  mutable std::shared_ptr<const CfgBatch> cfg_batch_;
  std::shared_ptr<const CfgBatch> cfg_batch_context(const TextContext& cond,
                                                    const TextContext& uncond) const;
};

}  // namespace fastvideo
