#include "pipeline/text_to_video_pipeline.h"

#include <functional>
#include <set>

#include "attention/attention_device.h"
#include "attention/sliding_tile_attn_backend.h"
#include "attention/vmoba_attn_backend.h"
#include "core/compute_device.h"
#include "core/env.h"
#include "core/format_number.h"
#include "fastvideo/log.h"
#include "io/load_stop.h"
#include "ops/gemm_autotune.h"
#include "parallel/rank_group.h"
#include "pipeline/compile_settings.h"
#include "pipeline/memory_plan.h"
#include "pipeline/parallel_settings.h"
#include "pipeline/sparse_attention_settings.h"
#include "pipeline/stages/decode_stage.h"
#include "pipeline/stages/dmd_denoise_stage.h"
#include "pipeline/stages/encode_text_stage.h"
#include "pipeline/stages/prepare_latents_stage.h"
#include "pipeline/stages/prepare_timesteps_stage.h"
#include "pipeline/stages/validate_stage.h"
#include "pipeline/stages/write_stage.h"
#include "pipeline/transformer_quant.h"
#include "pipeline/wan_checkpoint.h"
#include "schedulers/dmd_schedule.h"
#include "schedulers/make_scheduler.h"

namespace fastvideo {

namespace {

DType text_encoder_dtype(const std::string& precision, Device device) {
  FV_CHECK(precision == "bf16" || precision == "fp32", "text encoder precision '", precision,
           "' is not valid (expected bf16 or fp32)");
  // wan21.md §3.2: diffusers runs UMT5 in bf16; the CPU backend computes in f32 only.
  return device.is_cpu() || precision == "fp32" ? DType::F32 : DType::BF16;
}

// The folder's name as given, also when it is given as "." or "a/b/.." (QA audit: recorded as
// ".."); a symbolic link keeps its own name, which serve's clients send as the model.
std::string model_name(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::path named = std::filesystem::absolute(dir, ec);
  named = (ec ? dir : named).lexically_normal();
  return named.filename().empty() ? named.parent_path().filename().string()
                                  : named.filename().string();
}

// The DMD stage's timesteps: dmd_denoising_steps when given (WanDMDPipeline only), else the
// preset's.
void apply_dmd_denoising_steps(const GeneratorOptions& options, WanPipelineKind pipeline,
                               SamplingPreset& preset) {
  if (!options.dmd_denoising_steps) return;
  const std::vector<int>& steps = *options.dmd_denoising_steps;
  FV_CHECK(pipeline == WanPipelineKind::Dmd, "dmd_denoising_steps=", format_dmd_timesteps(steps),
           " is set, but model_index.json names ", wan_pipeline_class_name(pipeline),
           "; the DMD timesteps apply to a WanDMDPipeline (FastWan) checkpoint only");
  const std::string bad = invalid_dmd_timesteps(steps);
  FV_CHECK(bad.empty(), "dmd_denoising_steps=", format_dmd_timesteps(steps), ": ", bad);
  preset.dmd_timesteps = steps;
}

VaeTiling square_tiling(int size, int stride) {
  return {.tile_height = size, .tile_width = size, .stride_height = stride, .stride_width = stride};
}

// The VAE tiling the options ask for, checked: none unless vae_tiling is on, and then square
// tiles of positive multiples of the VAE's spatial stride with stride <= size.
std::optional<VaeTiling> vae_tiling_for(const GeneratorOptions& options, int64_t spatial_stride) {
  if (!options.vae_tiling) {
    const bool size_set = options.vae_tile_size.has_value();
    const bool stride_set = options.vae_tile_stride.has_value();
    FV_CHECK(!size_set && !stride_set,
             size_set ? str_cat("vae_tile_size=", *options.vae_tile_size) : std::string(),
             size_set && stride_set ? " and " : "",
             stride_set ? str_cat("vae_tile_stride=", *options.vae_tile_stride) : std::string(),
             size_set && stride_set ? " are" : " is",
             " set, but vae_tiling is off; turn it on (vae_tiling=true, --vae-tiling) to tile");
    return std::nullopt;
  }
  const int size = options.vae_tile_size.value_or(kDefaultVaeTileSize),
            stride = options.vae_tile_stride.value_or(kDefaultVaeTileStride);
  FV_CHECK(size > 0 && size % spatial_stride == 0, "vae_tile_size=", size,
           ": expected a positive multiple of ", spatial_stride, " pixels");
  FV_CHECK(stride > 0 && stride % spatial_stride == 0 && stride <= size, "vae_tile_stride=", stride,
           ": expected a positive multiple of ", spatial_stride,
           " pixels, at most vae_tile_size=", size);
  return square_tiling(size, stride);
}

// Bytes of the specs' tensors (those whose name starts with `prefix`) in `dtype`, or f32 for the
// names in `f32`.
int64_t weight_bytes(const std::vector<TensorSpec>& specs, DType dtype,
                     const std::set<std::string>* f32 = nullptr, const std::string& prefix = {}) {
  int64_t bytes = 0;
  for (const TensorSpec& spec : specs) {
    if (!spec.used || spec.name.rfind(prefix, 0) != 0) continue;
    const DType d = f32 && f32->count(spec.name) ? DType::F32 : dtype;
    bytes += shape_numel(spec.shape) * int64_t(dtype_size(d));
  }
  return bytes;
}

// On the CPU the weights are in host memory already and UMT5 computes in f32: an offload switch or
// a text encoder precision asked for changes nothing.
void log_settings_idle_on_cpu(const GeneratorOptions& options) {
  std::vector<std::string> on;
  if (options.dit_layerwise_offload.value_or(false)) on.push_back("dit_layerwise_offload");
  if (options.dit_cpu_offload.value_or(false)) on.push_back("dit_cpu_offload");
  if (options.text_encoder_cpu_offload.value_or(false)) on.push_back("text_encoder_cpu_offload");
  if (options.vae_cpu_offload.value_or(false)) on.push_back("vae_cpu_offload");
  if (!options.pin_cpu_memory) on.push_back("pin_cpu_memory=false");  // no offloaded copies to pin
  for (const std::string& name : on)
    log::info(name, " has no effect on the CPU device: the weights are in host memory already");
  if (options.text_encoder_precision != GeneratorOptions{}.text_encoder_precision) {
    log::info("text_encoder_precision=", options.text_encoder_precision,
              " has no effect on the CPU device: it computes in f32");
  }
}

// The offloads this run uses (issue 12): those the options fix, and for the rest (auto) the
// least costly set whose estimated peak, at the model's preset size, fits the device memory
// available (the budget, when there is one). Logged in one line. A budget too small for any set
// the options allow is an error here, before any weights load. With `dit_shards` ≥ 1 the device
// holds its 1/dit_shards piece of the transformer's blocks (use_fsdp_inference; 0: whole
// blocks); with `vae_gpus` ≥ 2 the decode is split along the height across that many GPUs.
// The memory plan's choices: the offloads, and the most latent tokens a video may have for CFG's
// two passes to run as one batch (kCfgBatchTokens unless two such videos would not fit).
struct PlannedMemory {
  OffloadChoice offload;
  int64_t cfg_batch_tokens = kCfgBatchTokens;
};

PlannedMemory plan_offload(const GeneratorOptions& options, Device device,
                           const SamplingPreset& preset, const WanGeometry& geometry,
                           const WanTransformerConfig& dit, const WanBlockExtras& extras,
                           const std::set<std::string>& dit_fp32, const Umt5Config& umt5,
                           DType umt5_dtype, const WanVaeConfig& vae, bool tiling_asked,
                           const std::string& dit_resident_because, int dit_shards, int vae_gpus,
                           int sequence_ranks) {
  FV_CHECK(!(options.dit_layerwise_offload == false && options.dit_cpu_offload == true),
           "dit_layerwise_offload=false and dit_cpu_offload=true contradict each other here: on "
           "one GPU both mean streaming the transformer's blocks from host memory; set one");
  FV_CHECK(!(options.keep_text_encoder == true && options.text_encoder_cpu_offload == true),
           "keep_text_encoder=true and text_encoder_cpu_offload=true contradict each other: one "
           "keeps UMT5's weights on the device between generations, the other streams them from "
           "the checkpoint's files for each; set one");
  if (device.is_cpu()) {
    log_settings_idle_on_cpu(options);
    return {.offload = {.vae_tiling = tiling_asked,
                        .text_encoder_released = !options.keep_text_encoder.value_or(false)}};
  }
  const std::vector<TensorSpec> dit_specs = wan_transformer_specs(dit, extras);
  const std::vector<TensorSpec> te_specs = umt5_encoder_specs(umt5);
  const SamplingDefaults& d = preset.defaults;
  const int64_t preset_tokens = geometry.tokens(d.num_frames, d.height, d.width);
  MemoryNeeds needs{
      .dit_weights = weight_bytes(dit_specs, DType::BF16, &dit_fp32),
      .dit_block = weight_bytes(dit_specs, DType::BF16, &dit_fp32, "blocks.0."),
      .dit_blocks = dit.num_layers,
      .text_encoder_weights = weight_bytes(te_specs, umt5_dtype),
      .text_encoder_layer = weight_bytes(te_specs, umt5_dtype, nullptr, "encoder.block.0."),
      .text_encoder_resident =
          weight_bytes(te_specs, umt5_dtype, nullptr, "encoder.final_layer_norm."),
      .vae_weights = weight_bytes(wan_vae_specs(vae), DType::BF16),
      .encode_activations =
          estimate_encode_activations(umt5.d_model, umt5.d_ff, umt5.num_heads, 512),
      // Each sequence-parallel rank holds its share of the tokens (GPU 0 is planned; it holds the
      // most beside the text encoder and the VAE).
      .denoise_activations = estimate_denoise_activations(
          (preset_tokens + sequence_ranks - 1) / std::max(sequence_ranks, 1), dit.inner_dim(),
          dit.ffn_dim, dit.num_layers, 512),
      .decode_activations =
          estimate_decode_activations(d.num_frames, d.height, d.width, std::max(vae_gpus, 1)),
      .decode_activations_tiled = estimate_tiled_decode_activations(
          d.num_frames, d.height, d.width, options.vae_tile_size.value_or(kDefaultVaeTileSize))};
  if (dit_shards >= 1) needs.dit_weights = sharded_dit_weights(needs, dit_shards);
  OffloadSettings settings;
  // On one GPU FastVideo's dit_cpu_offload (FSDP's CPU offload) also brings the weights in block
  // by block: the same streaming as dit_layerwise_offload, which wins when both are set.
  settings.dit_layerwise =
      options.dit_layerwise_offload ? options.dit_layerwise_offload : options.dit_cpu_offload;
  if (!dit_resident_because.empty()) {
    FV_CHECK(!settings.dit_layerwise.value_or(false), dit_resident_because,
             " and dit_layerwise_offload / dit_cpu_offload do not go together in this version; "
             "turn one off");
    settings.dit_layerwise = false;
  }
  settings.text_encoder = options.text_encoder_cpu_offload;
  if (options.keep_text_encoder) settings.text_encoder_released = !*options.keep_text_encoder;
  settings.vae = false;  // vae_cpu_offload is not in this version (refused above)
  if (tiling_asked) settings.vae_tiling = true;
  const DeviceMemory memory = device_memory(device);
  const MemoryPlan plan = plan_memory(needs, settings, memory.available());
  // One GPU whose blocks a setting keeps resident: where only layerwise offload would fit, the
  // setting is named (layerwise offload is one GPU's, unsharded, so the comparison means nothing
  // for several or sharded ranks). At the preset size: refused under a budget, else a warning,
  // as a smaller request may fit.
  const std::string resident_problem =
      dit_shards == 0 && sequence_ranks <= 1 && vae_gpus <= 1
          ? resident_blocks_problem(needs, settings, plan, memory.available(), dit_resident_because)
          : std::string();
  if (!resident_problem.empty() && memory.budget > 0) {
    throw OutOfDeviceMemory(
        str_cat("max_device_memory=", format_gib(memory.budget), ": ", resident_problem));
  }
  if (!plan.fits && memory.budget > 0) {
    throw OutOfDeviceMemory(str_cat(
        "max_device_memory=", format_gib(memory.budget), " is too small: at its preset size (",
        d.width, "x", d.height, ", ", d.num_frames, " frames) this model needs about ",
        format_gib(plan.smallest), " even with the most offloading the settings allow (",
        plan.summary.substr(plan.summary.find(':') + 2), "); the smallest budget that would do is ",
        format_gib(budget_for(plan.smallest, memory.in_use))));
  }
  if (!resident_problem.empty()) {
    log::warning(resident_problem, " (at the preset size; a smaller request may fit)");
  } else if (!plan.fits) {
    log::warning(plan.summary, "; it may not fit: set max_device_memory or offload switches");
  } else {
    log::info(plan.summary);
  }
  const int64_t cfg_batch_tokens =
      cfg_batch_limit(needs, plan.choice, memory.available(), kCfgBatchTokens, preset_tokens,
                      dit.inner_dim(), dit.ffn_dim, dit.num_layers, 512);
  if (cfg_batch_tokens < kCfgBatchTokens) {
    log::info("memory plan: CFG's two passes run as one batch only for videos of at most ",
              cfg_batch_tokens, " latent tokens (two of up to ", kCfgBatchTokens,
              " would not fit beside the rest)");
  }
  return {plan.choice, cfg_batch_tokens};
}

}  // namespace

TextToVideoPipeline::TextToVideoPipeline(const std::filesystem::path& model_dir,
                                         const GeneratorOptions& options)
    : device_(parse_compute_device(options.device)),
      budget_(device_, options.max_device_memory),
      checkpoint_(open_wan_checkpoint(model_dir)) {
  const WanPipelineKind pipeline = wan_pipeline_kind(checkpoint_);
  // wan21.md §1.2: on a GPU the transformer and the VAE are bf16, except the transformer's f32
  // keep-list; the CPU computes in f32.
  const DType weight_dtype = device_.is_cpu() ? DType::F32 : DType::BF16;
  const DType umt5_dtype = text_encoder_dtype(options.text_encoder_precision, device_);
  // Every config is checked against its weights before any weights load.
  const auto dit_config = WanTransformerConfig::from_checkpoint(checkpoint_);
  const auto vae_config = WanVaeConfig::from_checkpoint(checkpoint_);
  auto umt5_config = Umt5Config::from_checkpoint(checkpoint_);
  geometry_ = std::make_unique<WanGeometry>(vae_config, dit_config);
  // Built (and so checked) before any weights load: a scheduler it cannot use fails at once. The
  // DMD pipeline has no scheduler to choose: its noise levels come from a fixed table.
  std::unique_ptr<PrepareTimestepsStage> prepare_timesteps;
  if (pipeline == WanPipelineKind::Wan) {
    prepare_timesteps = std::make_unique<PrepareTimestepsStage>(
        options.scheduler.empty() ? std::string(kDefaultScheduler) : options.scheduler,
        checkpoint_.config("scheduler"));
  } else {
    FV_CHECK(options.scheduler.empty(), "scheduler '", options.scheduler,
             "': the WanDMDPipeline (FastWan) steps through its dmd_denoising_steps with "
             "FastVideo's fixed shift-8 flow-match table, not a scheduler; leave it unset");
  }
  preset_ = sampling_preset_for(dit_config, pipeline);
  apply_dmd_denoising_steps(options, pipeline, preset_);
  const std::optional<VaeTiling> vae_tiling = vae_tiling_for(options, vae_config.spatial_stride());
  const std::optional<std::string> compile = check_compile_settings(options, device_);
  const std::string transformer_quant =
      checked_transformer_quant(options.transformer_quant, "transformer_quant");
  const AttentionDevice attention_device = attention_device_for(device_);
  check_transformer_quant_device(transformer_quant, attention_device);
  const ParallelPlan parallel =
      check_parallel_settings(options, device_,
                              {.heads = dit_config.num_attention_heads,
                               .gpu_count = options.num_gpus > 1 ? cuda_device_count() : 0,
                               .compile = compile.has_value(),
                               .runs_cfg = pipeline != WanPipelineKind::Dmd,
                               .fp8 = !transformer_quant.empty(),
                               .cpu_ranks = device_.is_cpu() && cpu_ranks_from_env()});
  // What keeps the transformer's blocks on the device (no layerwise offload), if anything.
  if (parallel.sharded) {
    dit_resident_because_ = "use_fsdp_inference (each GPU holds its piece of every block)";
  } else if (options.num_gpus > 1) {
    dit_resident_because_ = "num_gpus > 1 (each GPU holds a replica of the transformer)";
  } else if (compile) {
    dit_resident_because_ =
        "compile mode (enable_torch_compile: a CUDA graph cannot wait on the weight copies' "
        "stream)";
  } else if (!transformer_quant.empty()) {
    dit_resident_because_ =
        "transformer_quant FP8 (the streamed blocks would need FP8 copies made on the host)";
  }
  attention_ =
      select_attention_backends(options.attention_backend, env_string(kAttentionBackendEnv),
                                attention_device, {dit_config.attention_head_dim, weight_dtype});
  log::info("attention backends: ", attention_.describe());
  if (compile) check_compile_backend(*attention_.self);
  SparseAttentionSettings sparse{
      resolve_vsa_sparsity(options.vsa_sparsity, preset_.defaults.vsa_sparsity, *attention_.self,
                           attention_.source),
      resolve_sla_topk_ratio(options.sla_topk_ratio, *attention_.self, attention_.source),
      {}};
  if (!options.moba_config_path.empty() || attention_.self->name() == kVmobaBackendName) {
    FV_CHECK(attention_.self->name() == kVmobaBackendName, "moba_config_path is set (",
             options.moba_config_path.string(), "), but the self-attention backend is ",
             attention_.self->name(), " (", attention_.source, "); it configures ",
             kVmobaBackendName, ": select it with ", ways_to_select(kVmobaBackendName),
             ", or leave it unset");
    FV_CHECK(!options.moba_config_path.empty(), kVmobaBackendName,
             " needs its config: set moba_config_path (--moba-config-path, "
             "generator.pipeline.experimental.moba_config_path) to a VMoBA JSON such as "
             "FastVideo's fastvideo/configs/backend/vmoba/wan_1.3B_77_480_832.json");
    sparse.moba_config =
        std::make_shared<const VmobaConfig>(VmobaConfig::from_file(options.moba_config_path));
  }
  // Unlike moba_config_path, a variable may be exported for other runs: a warning, not an error
  // (QA fuzzing: it was ignored without a word).
  if (const auto strategy = env_string(kAttentionConfigEnv);
      strategy && !strategy->empty() && attention_.self->name() != "SLIDING_TILE_ATTN") {
    log::warning(kAttentionConfigEnv, "=", *strategy, " is set, but the self-attention backend is ",
                 attention_.self->name(), " (", attention_.source,
                 "); only SLIDING_TILE_ATTN reads it, so it is ignored");
  }
  if (!options.sta_search_candidates.empty()) {
    FV_CHECK(attention_.self->name() == "SLIDING_TILE_ATTN",
             "sta_search_candidates are set, but "
             "the self-attention backend is ",
             attention_.self->name(), "; the STA mask search runs SLIDING_TILE_ATTN");
    for (const StaTiles& c : options.sta_search_candidates)
      FV_CHECK(c[0] >= 1 && c[1] >= 1 && c[2] >= 1, "STA mask search candidate [", c[0], ", ", c[1],
               ", ", c[2], "]: window sizes are whole numbers of tiles, at least 1");
    sparse.sta_search = std::make_shared<StaSearchRecorder>(options.sta_search_candidates);
    sta_search_ = sparse.sta_search;
  }
  // vae_cpu_offload has no implementation yet; the rest are planned below.
  FV_CHECK(!options.vae_cpu_offload.value_or(false),
           "vae_cpu_offload=true: keeping the VAE off the GPU between decodes is not in this "
           "version (its weights are 0.25 GB; vae_tiling bounds what decoding needs)");

  // VSA-trained checkpoints carry a gate per block; only a backend that takes it loads it.
  const std::set<std::string> dit_names = component_tensor_names(checkpoint_.path("transformer"));
  const WanBlockExtras extras{.gate = find_vsa_gate_layout(dit_names, dit_config.num_layers),
                              .load_gate = attention_.self->takes_gate(),
                              .proj_l = find_sla_proj_l(dit_names, dit_config.num_layers),
                              .load_proj_l = attention_.self->takes("proj_l")};
  if (extras.gate != VsaGateLayout::Absent && !extras.load_gate) {
    log::info("transformer: the checkpoint's VSA gates (blocks.N.", vsa_gate_prefix(extras.gate),
              ") are unused: self-attention runs ", attention_.self->name());
  }
  if (extras.proj_l && !extras.load_proj_l) {
    log::info("transformer: the checkpoint's SLA proj_l (blocks.N.", kSlaProjLPrefix,
              ") is unused: self-attention runs ", attention_.self->name());
  }
  // What the backend's extra weights are, said here once (every rank's and CFG partner's model
  // loads the same).
  const std::string_view self_name = attention_.self->name();
  if (extras.load_proj_l) {
    log::info("transformer: ", self_name,
              extras.proj_l ? str_cat(" proj_l from blocks.N.", kSlaProjLPrefix, " (",
                                      dit_config.num_layers, " blocks)")
                            : std::string(" runs with proj_l = 0 (no proj_l weights: pure sparse "
                                          "attention, as FastVideo zero-initialises them)"));
  }
  if (extras.load_gate) {
    if (extras.gate == VsaGateLayout::Absent) {
      log::info("transformer: no to_gate_compress weights, so ", self_name,
                " runs with G = 0 (sparse attention only, as FastVideo zero-initialises them)");
    } else {
      log::info("transformer: ", self_name, " gate from blocks.N.", vsa_gate_prefix(extras.gate),
                " (", dit_config.num_layers, " blocks)");
    }
  }
  const std::set<std::string> dit_fp32 = wan_transformer_fp32_names(dit_config, extras);
  const PlannedMemory planned =
      plan_offload(options, device_, preset_, *geometry_, dit_config, extras, dit_fp32, umt5_config,
                   umt5_dtype, vae_config, vae_tiling.has_value(), dit_resident_because_,
                   parallel.sharded ? parallel.sp_size : 0,
                   int(parallel.devices.size() + parallel.uncond_devices.size()), parallel.sp_size);
  // max_device_memory caps every GPU of the run, not only the first.
  for (const std::vector<Device>* ranks : {&parallel.devices, &parallel.uncond_devices}) {
    for (const Device& d : *ranks) {
      if (!d.is_cpu() && d != device_) {
        other_budgets_.push_back(
            std::make_unique<DeviceMemoryBudget>(d, options.max_device_memory));
      }
    }
  }
  offload_ = planned.offload;
  // The plan may turn tiling on; then it tiles as vae_tile_size / vae_tile_stride say.
  const std::optional<VaeTiling> decode_tiling =
      offload_.vae_tiling ? std::optional(vae_tiling.value_or(square_tiling(
                                options.vae_tile_size.value_or(kDefaultVaeTileSize),
                                options.vae_tile_stride.value_or(kDefaultVaeTileStride))))
                          : std::nullopt;
  const bool compile_umt5 = compile && options.compile_text_encoder;
  FV_CHECK(!(compile_umt5 && offload_.text_encoder),
           "compile.text_encoder_enabled: UMT5 does not fit on ", device_.name(),
           " beside the rest, so the memory plan streams it (text_encoder_cpu_offload), which a "
           "captured CUDA graph cannot replay; turn text_encoder_enabled off or give the run more "
           "device memory");
  prompt_encoder_ = std::make_unique<PromptEncoder>(checkpoint_, std::move(umt5_config), device_,
                                                    umt5_dtype, !offload_.text_encoder_released,
                                                    offload_.text_encoder, compile_umt5);
  // Layerwise offload takes the blocks as they are stored (views into the checkpoint's mapping)
  // and pins or streams them itself; the other weights load onto the GPU as usual.
  const auto dit_offload =
      offload_.dit_layerwise
          ? std::optional<WanLayerwiseOffload>(WanLayerwiseOffload{
                .device = device_, .resident_blocks = 2, .pin_cpu_memory = options.pin_cpu_memory})
          : std::nullopt;
  // Sharded weights (use_fsdp_inference): like layerwise offload, each rank's model takes the
  // blocks as they are stored and converts only its piece onto its GPU.
  const auto sharding = [&](Device device, int rank) {
    return parallel.sharded
               ? std::optional(WanWeightSharding{device, rank, int(parallel.devices.size())})
               : std::nullopt;
  };
  const bool blocks_on_host = dit_offload || parallel.sharded;
  // Rank `rank` of a group's model on `device` (the memory plan above covered the first GPU only).
  auto load_on = [&](Device device, int rank) {
    return std::make_unique<WanTransformer>(
        dit_config,
        load_component(checkpoint_.path("transformer"), wan_transformer_specs(dit_config, extras),
                       weight_dtype, device, &dit_fp32, blocks_on_host ? "blocks." : ""),
        *attention_.self, *attention_.cross, dit_offload, sharding(device, rank));
  };
  transformer_ = load_on(device_, 0);
  // Sequence parallelism over `ranks` for `model` (rank 0, on ranks[0]): a replica on each other
  // GPU; CPU threads share the model itself unless each keeps its own piece of the weights.
  // Sharded weights need the group even on one GPU.
  auto spread = [&](WanTransformer& model, const std::vector<Device>& ranks) {
    if (ranks.size() < 2 && !parallel.sharded) return;
    std::vector<std::unique_ptr<WanTransformer>> replicas;
    for (size_t r = 1; r < ranks.size() && (!ranks[r].is_cpu() || parallel.sharded); ++r)
      replicas.push_back(load_on(ranks[r], int(r)));
    model.enable_sequence_parallel(std::move(replicas),
                                   make_rank_group(ranks, options.dist_timeout));
    log::info("transformer: sequence parallelism over ", describe_ranks(ranks), ", Ulysses",
              ranks.front().is_cpu() ? " through shared memory" : " over NCCL",
              parallel.sharded ? "; weights sharded (use_fsdp_inference)" : "");
  };
  spread(*transformer_, parallel.devices);
  transformer_->set_cfg_batch_tokens(planned.cfg_batch_tokens);
  std::unique_ptr<WanTransformer> uncond_model;
  if (!parallel.uncond_devices.empty()) {
    uncond_model = load_on(parallel.uncond_devices[0], 0);
    spread(*uncond_model, parallel.uncond_devices);
  }
  if (!transformer_quant.empty()) {
    transformer_->quantize_linears_fp8();
    if (uncond_model) uncond_model->quantize_linears_fp8();
    log::info(
        "transformer: blocks' linears in FP8 (E4M3 weights, per-channel and per-token "
        "scales, or 128-wide ones where served)",
        device_.is_cpu() ? "; emulated in f32 on the CPU" : "");
  }
  if (uncond_model) {
    transformer_->enable_cfg_parallel(std::move(uncond_model));
    log::info("transformer: CFG-parallel, the unconditional pass on ",
              describe_ranks(parallel.uncond_devices));
  }
  if (compile) {
    transformer_->enable_compile();
    transformer_->set_gemm_autotune(options.torch_compile_kwargs.mode == "max-autotune");
  }
  auto load_vae = [&](Device device) {
    return std::make_unique<WanVaeDecoder>(
        vae_config,
        load_component(checkpoint_.path("vae"), wan_vae_specs(vae_config), weight_dtype, device));
  };
  vae_ = load_vae(device_);
  vae_->watch_stop(&stop_);
  transformer_->watch_stop(&stop_);
  if (compile && options.compile_vae) vae_->enable_compile();
  // Several GPUs: the decode split along the height across all of them (a replica of the 0.25 GB
  // VAE on each), unless it is tiled, which decodes tile after tile on the first.
  std::vector<Device> vae_ranks = parallel.devices;
  vae_ranks.insert(vae_ranks.end(), parallel.uncond_devices.begin(), parallel.uncond_devices.end());
  if (vae_ranks.size() >= 2 && decode_tiling) {
    log::info("VAE: decode tiled on ", device_.name(), " (vae_tiling), not split across ",
              describe_ranks(vae_ranks));
  } else if (vae_ranks.size() >= 2) {
    std::vector<std::unique_ptr<WanVaeDecoder>> replicas;
    for (size_t r = 1; r < vae_ranks.size() && !vae_ranks[r].is_cpu(); ++r)
      replicas.push_back(load_vae(vae_ranks[r]));
    vae_->enable_height_split(std::move(replicas),
                              make_rank_group(vae_ranks, options.dist_timeout));
    log::info("VAE: decode split along the height across ", describe_ranks(vae_ranks));
  }

  std::vector<std::pair<std::string, std::string>> engine_parameters = {
      {"pipeline", std::string(wan_pipeline_class_name(pipeline))},
      {"backend", device_.name()},
      {"attention_backend_self", std::string(attention_.self->name())},
      {"attention_backend_cross", std::string(attention_.cross->name())},
      {"model", model_name(model_dir)},
      {"engine", "fastvideo-cpp 0.1.0"}};
  if (!device_.is_cpu())
    engine_parameters.emplace_back("text_encoder_precision", options.text_encoder_precision);
  if (attention_.self->name() == kVsaBackendName) {
    engine_parameters.emplace_back("VSA_sparsity", shortest(sparse.vsa_sparsity));
  }
  if (attention_.self->name() == kSlaBackendName ||
      attention_.self->name() == kSageSlaBackendName) {
    engine_parameters.emplace_back("SLA_topk_ratio", shortest(sparse.sla_topk_ratio));
  }
  if (attention_.self->name() == "SLIDING_TILE_ATTN") {
    const auto strategy = env_string(kAttentionConfigEnv);
    engine_parameters.emplace_back(
        "STA_mask_strategy",
        strategy && !strategy->empty()
            ? *strategy
            : str_cat("none: every head ", kStaDefaultWindow[0], "x", kStaDefaultWindow[1], "x",
                      kStaDefaultWindow[2], " tiles, cut to the grid"));
  }
  if (compile) engine_parameters.emplace_back("compile", *compile);
  if (options.num_gpus > 1) {
    engine_parameters.emplace_back("num_gpus", std::to_string(options.num_gpus));
    engine_parameters.emplace_back("sp_size", std::to_string(parallel.sp_size));
  }
  if (parallel.sharded) engine_parameters.emplace_back("use_fsdp_inference", "true");
  if (vae_->height_split_size() > 1) {
    engine_parameters.emplace_back("vae_height_split", std::to_string(vae_->height_split_size()));
  }
  if (!transformer_quant.empty())
    engine_parameters.emplace_back("transformer_quant", transformer_quant);
  if (sparse.moba_config) {
    engine_parameters.emplace_back("moba_config_path", options.moba_config_path.string());
  }
  if (decode_tiling) {
    engine_parameters.emplace_back("vae_tiling",
                                   std::to_string(decode_tiling->tile_height) + " every " +
                                       std::to_string(decode_tiling->stride_height) + " px");
  }
  if (offload_.dit_layerwise) engine_parameters.emplace_back("dit_layerwise_offload", "true");
  if (offload_.text_encoder) engine_parameters.emplace_back("text_encoder_cpu_offload", "true");
  if (options.max_device_memory > 0) {
    engine_parameters.emplace_back("max_device_memory", format_gib(options.max_device_memory));
  }
  if (pipeline == WanPipelineKind::Dmd) {
    engine_parameters.emplace_back("scheduler", "dmd");
    engine_parameters.emplace_back("dmd_denoising_steps",
                                   format_dmd_timesteps(preset_.dmd_timesteps));
  }
  // The self-attention's settings against the request's grid and extent, before any work (step 0
  // stands for every step: the settings are the same at each). FastWan runs its DMD timesteps.
  const int dmd_steps = pipeline == WanPipelineKind::Dmd ? int(preset_.dmd_timesteps.size()) : 0;
  auto check_attention =
      [self = attention_.self, sparse, dmd_steps, layers = int(dit_config.num_layers),
       heads = int(dit_config.num_attention_heads)](const std::array<int64_t, 3>& grid, int steps) {
        AttentionStepInfo step = sparse.step(0, 1000.0, grid);
        step.steps = dmd_steps > 0 ? dmd_steps : steps;
        step.layers = layers;
        step.heads = heads;
        self->check_step(step);
      };
  stages_.push_back(std::make_unique<ValidateStage>(
      preset_, *geometry_, std::move(engine_parameters), std::move(check_attention)));
  stages_.push_back(std::make_unique<EncodeTextStage>(*prompt_encoder_, *transformer_));
  if (prepare_timesteps) stages_.push_back(std::move(prepare_timesteps));
  stages_.push_back(std::make_unique<PrepareLatentsStage>(*geometry_, device_, pipeline));
  if (pipeline == WanPipelineKind::Dmd) {
    stages_.push_back(std::make_unique<DmdDenoiseStage>(
        *transformer_, *geometry_, preset_.dmd_timesteps, sparse, progress_, stop_));
  } else {
    stages_.push_back(
        std::make_unique<DenoiseStage>(*transformer_, *geometry_, sparse, progress_, stop_));
  }
  stages_.push_back(std::make_unique<DecodeStage>(*vae_, decode_tiling));
  stages_.push_back(std::make_unique<WriteStage>(stop_));
}

TextToVideoPipeline::~TextToVideoPipeline() = default;

std::vector<std::pair<std::string, std::string>> TextToVideoPipeline::resolve(
    GenerationRequest request) const {
  request.output_path.clear();  // the validate stage would check (and reserve) it otherwise
  RequestState state(request);
  // The validate stage, and the timesteps' (the scheduler the metadata names): they only read the
  // request, the preset and their own configuration, so they may run beside a generation.
  stages_.front()->run(state);
  for (const auto& stage : stages_) {
    if (stage->name() == "prepare_timesteps") stage->run(state);
  }
  return state.result.parameters;
}

GenerationResult TextToVideoPipeline::run(const GenerationRequest& request) {
  RequestState state(request);
  // A stop asked for during this generation ends with it, however it ends; one asked for between
  // generations stays for the next.
  struct ConsumeStop {
    StopFlag& stop;
    ~ConsumeStop() { stop.clear(); }
  } consume{stop_};
  // UMT5 loaded for this generation (keep_text_encoder false) polls its stop between tensors.
  const std::function<bool()> stop_requested = [this] { return stop_.requested(); };
  const LoadStopScope load_stop(stop_requested);
  if (sta_search_) sta_search_->clear();
  const WanTransformer::CompileStats compile_before = transformer_->compile_stats();
  const CompileStats vae_before = vae_->compile_stats();
  const CompileStats umt5_before = prompt_encoder_->compile_stats();
  const double tuning_before = ops::gemm_autotune_seconds();
  try {
    run_stages(stages_, state, device_, stop_);
  } catch (const OutOfDeviceMemory& e) {
    // StageClock recorded the stage that threw.
    const std::string stage = state.result.stages.empty() ? "" : state.result.stages.back().name;
    throw OutOfDeviceMemory(str_cat("the ", stage, " stage ran out of device memory: ", e.what(),
                                    "; ", memory_advice(stage)));
  }
  GenerationResult& result = state.result;
  if (transformer_->compiled()) {
    const WanTransformer::CompileStats after = transformer_->compile_stats();
    const double tuning = ops::gemm_autotune_seconds() - tuning_before;
    result.compile_seconds = after.capture_seconds - compile_before.capture_seconds + tuning;
    result.graph_replays = after.replays - compile_before.replays;
    log::info("compile mode: ", after.graphs - compile_before.graphs, " graphs captured (",
              result.compile_seconds, " s one-time",
              tuning > 0 ? str_cat(", of which GEMM autotuning ", tuning, " s") : std::string(),
              "), ", result.graph_replays, " forwards replayed a graph; ",
              after.graph_memory_bytes >> 20, " MiB of graph memory held");
  }
  if (const CompileStats umt5 = prompt_encoder_->compile_stats(); umt5.graphs > 0) {
    const double seconds = umt5.capture_seconds - umt5_before.capture_seconds;
    result.compile_seconds += seconds;
    log::info("compile mode: the text encoder captured ", umt5.graphs - umt5_before.graphs,
              " graph(s) (", seconds, " s one-time) and replayed one for ",
              umt5.replays - umt5_before.replays, " prompts");
  }
  if (vae_->compiled()) {
    // The VAE captures anew in every decode (its graphs go with the decode's caches).
    const CompileStats after = vae_->compile_stats();
    const double seconds = after.capture_seconds - vae_before.capture_seconds;
    const int replays = after.replays - vae_before.replays;
    result.compile_seconds += seconds;
    result.graph_replays += replays;
    log::info("compile mode: the VAE captured ", after.graphs - vae_before.graphs,
              " chunk graph(s) (", seconds, " s) and replayed them for ", replays, " chunks");
  }
  if (sta_search_) result.sta_search = sta_search_->losses();
  result.frames = state.video.frames;
  result.height = state.video.height;
  result.width = state.video.width;
  result.fps = state.video.fps;
  result.rgb = std::move(state.video.rgb);
  return std::move(result);
}

std::string TextToVideoPipeline::memory_advice(const std::string& stage) const {
  const char* smaller = "or generate fewer frames or a smaller size";
  if (stage == "encode_text" && !offload_.text_encoder) {
    return str_cat("turn on text_encoder_cpu_offload (--text-encoder-cpu-offload true) ", smaller);
  }
  // Not where a setting keeps the blocks resident (compile mode, FP8, sharded or several GPUs).
  if (stage == "denoise" && !offload_.dit_layerwise && dit_resident_because_.empty()) {
    return str_cat("turn on dit_layerwise_offload (--dit-layerwise-offload true) ", smaller);
  }
  if (stage == "decode" && !offload_.vae_tiling) {
    return str_cat("turn on vae_tiling (--vae-tiling) ", smaller);
  }
  if (stage == "decode") return str_cat("use a smaller vae_tile_size ", smaller);
  return str_cat("raise max_device_memory if it is set, ", smaller);
}

}  // namespace fastvideo
