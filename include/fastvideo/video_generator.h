// The public C++ API, mirroring FastVideo's VideoGenerator:
//   auto gen = fastvideo::VideoGenerator::from_pretrained("Wan2.1-T2V-1.3B-Diffusers");
//   auto result = gen.generate({.prompt = "A red fox runs through fresh snow at dawn."});
// Unset request fields take the model's preset (fastvideo.md §1.6), e.g. 480×832×81, 50 steps.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fastvideo/error.h"
#include "fastvideo/sta_search.h"

namespace fastvideo {

// FastVideo's torch_compile_kwargs as this engine reads them. Its compile mode is not
// torch.compile: the transformer's whole forward is captured into a CUDA graph once per input shape
// and replayed (docs/compile.md). mode: unset, "default", "reduce-overhead" or "max-autotune",
// which all run that compile mode (CUDA graphs are what reduce-overhead asks for); max-autotune
// also times cuBLASLt's candidate algorithms for each new GEMM shape of the transformer and keeps
// the fastest (ops/gemm_autotune.h); backend: unset, "inductor" or "cudagraphs"; fullgraph and
// dynamic: either (the forward is always one graph; a new shape is captured anew). Anything else is
// refused by name.
struct TorchCompileKwargs {
  std::string mode, backend;
  std::optional<bool> fullgraph, dynamic;
};

inline constexpr int kDefaultVaeTileSize = 256, kDefaultVaeTileStride = 192;

struct GeneratorOptions {
  // "auto" (GPU 0 when it is usable, else the CPU; the choice is logged), "cpu", "cuda" (GPU 0)
  // or "cuda:N". On a GPU the models run the diffusers bf16 path (weights bf16 except the
  // transformer's f32 keep-list; latents and scheduler state f32).
  std::string device = "auto";
  // UMT5 weights and activations on a GPU: "bf16" (as diffusers) or "fp32". The CPU always
  // computes in f32.
  std::string text_encoder_precision = "bf16";
  // Self-attention backend by FastVideo name (TORCH_SDPA, FLASH_ATTN, ...; DESIGN §4). Empty:
  // FASTVIDEO_ATTENTION_BACKEND, else automatic. Cross-attention always runs a dense backend.
  std::string attention_backend;
  // flow_unipc | checkpoint | euler; empty: flow_unipc (FastVideo's default). The FastWan (DMD)
  // pipeline has no scheduler to choose, so any value there is refused.
  std::string scheduler;
  // Keep UMT5's weights on the device between generations (loaded with the model) or load them
  // for each and release them after encoding. Unset: auto, kept on a GPU when the memory plan
  // fits them (docs/memory.md), released on the CPU.
  std::optional<bool> keep_text_encoder;
  // FastVideo's VSA_sparsity: the fraction of key tiles VIDEO_SPARSE_ATTN skips, in [0, 1). Unset:
  // the model's preset (0.8 for FastWan, 0 for Wan2.1). Setting it while the self-attention
  // backend is not VIDEO_SPARSE_ATTN is an error, not a no-op.
  std::optional<double> vsa_sparsity;
  // SLA's topk_ratio: the fraction of key blocks SLA_ATTN or SAGE_SLA_ATTN attends to exactly, in
  // (0, 1]. Unset: 0.1 for SLA_ATTN (FastVideo's SLAAttentionImpl default), 0.5 for SAGE_SLA_ATTN.
  // Setting it while the self-attention backend is neither is an error, not a no-op.
  std::optional<double> sla_topk_ratio;
  // FastVideo's dmd_denoising_steps, for a WanDMDPipeline checkpoint (FastWan) only: the timesteps
  // of its steps, each in [0, 1000], strictly decreasing. Unset: the preset's, [1000, 757, 522].
  std::optional<std::vector<int>> dmd_denoising_steps;
  // FastVideo's vae_tiling (diffusers' AutoencoderKLWan tiling): a video larger than one tile
  // decodes tile by tile, square tiles of vae_tile_size pixels every vae_tile_stride pixels, the
  // overlaps blended; the VAE's working memory then scales with a tile, not the frame. Off by
  // default, as in FastVideo's Wan presets. Sizes: multiples of 8, stride <= size; unset: 256
  // and 192 (kDefaultVaeTileSize, kDefaultVaeTileStride). Setting them while vae_tiling is off is
  // an error, not a no-op, the defaults' values written out too.
  bool vae_tiling = false;
  std::optional<int> vae_tile_size, vae_tile_stride;
  // FastVideo's STA mask search (fastvideo/sta_search.h): with SLIDING_TILE_ATTN as the
  // self-attention backend, these candidate windows are compared with the full window at every
  // step, layer and head (the video is the full window's); GenerationResult::sta_search holds the
  // losses. Empty: no search. With another backend, an error.
  std::vector<StaTiles> sta_search_candidates;
  // FastVideo's moba_config_path: VMOBA_ATTN's JSON (chunk sizes, topk or threshold selection,
  // the layer cycle, first_full_step; docs/config.md). Needed by VMOBA_ATTN; with another
  // backend, an error.
  std::filesystem::path moba_config_path;
  // FastVideo's num_gpus and sp_size (issue 15): one generation over num_gpus GPUs from the
  // device's index on, the transformer's tokens split across sp_size of them (Ulysses sequence
  // parallelism over NCCL, a replica of the transformer on each). sp_size -1 means num_gpus.
  // num_gpus = 2 x sp_size is CFG-parallel: the unconditional pass runs on the second group of
  // sp_size GPUs while the conditional one runs on the first. The heads must divide by sp_size;
  // other counts, and several GPUs with compile mode, layerwise offload or on the CPU, are
  // refused by name.
  int num_gpus = 1;
  int sp_size = -1;
  // FastVideo's dist_timeout: seconds a collective between GPUs may take before the run is
  // declared hung and ends naming the rank (1 .. 86400). Unset: FASTVIDEO_NCCL_TIMEOUT_S, else
  // 300. Only several GPUs have collectives to time.
  std::optional<int> dist_timeout;
  // FastVideo's use_fsdp_inference (issue 15): each of the sequence-parallel GPUs keeps a
  // 1/sp_size piece of every transformer block and gathers a block from the others just before
  // it runs, so the transformer takes about 1/sp_size of its size per GPU (docs/parallel.md).
  // A GPU only; not with compile mode, transformer_quant FP8 or layerwise offload (refused).
  bool use_fsdp_inference = false;
  // FastVideo's enable_torch_compile: compile mode for the transformer (above). Off by default, as
  // in FastVideo; a GPU only. The one-time cost (the first forward of each shape and its capture)
  // is reported apart from the steady state (GenerationResult::compile_seconds). Kwargs set while
  // it is off are an error, not a no-op.
  bool enable_torch_compile = false;
  TorchCompileKwargs torch_compile_kwargs;
  // FastVideo's transformer_quant: "FP8" runs the transformer blocks' linears in FP8 (E4M3 weights
  // with a scale per output channel, made at load; each input quantized per token with a dynamic
  // scale; docs/config.md). Empty: full precision. On the CPU the same rounding is emulated in f32;
  // on a GPU it needs FP8 tensor cores (sm_89+). Other values are refused by name.
  std::string transformer_quant;
  // FastVideo's text_encoder_enabled / vae_enabled: compiling UMT5 and the VAE as well (with
  // enable_torch_compile). UMT5's layers replay from CUDA graphs, one per prompt length (not
  // with text_encoder_cpu_offload: refused); the VAE decoder's chunks replay a graph captured in
  // each decode once the causal caches are full (docs/compile.md).
  bool compile_text_encoder = false, compile_vae = false;

  // Memory (FastVideo's offload switches, fastvideo.md §6.2). Unset means auto, the default: only
  // what does not fit is offloaded, decided before loading from the GPU's free memory (or
  // max_device_memory) and the run's needs, and logged in one line with the reason.
  //  - dit_layerwise_offload: the transformer blocks' weights stay in host memory and stream to
  //    the GPU a block ahead of use (two blocks resident), copies overlapping compute.
  //  - dit_cpu_offload: FastVideo's FSDP CPU offload, which keeps the weights in host memory and
  //    brings each block's to the GPU for its forward: on one GPU the same streaming as above.
  //  - text_encoder_cpu_offload: UMT5's weights stay in the checkpoint's files; its layers stream
  //    to the GPU one at a time while encoding (0.95 s for the 1.3B's UMT5 against 0.6-0.8 s
  //    resident, with 11 GB less device memory: docs/perf.md).
  //  - vae_cpu_offload: not in this version; true is refused (the VAE's weights are 0.25 GB, and
  //    vae_tiling bounds what decoding needs).
  // Offloading on the CPU device changes nothing (the weights are in host memory already).
  std::optional<bool> dit_layerwise_offload, dit_cpu_offload, text_encoder_cpu_offload,
      vae_cpu_offload;
  bool pin_cpu_memory =
      true;  // page-locked host copies of offloaded blocks; false: streamed from the checkpoint
  // A hard limit on the device memory this run's tensors take (bytes; 0: none), so a smaller
  // card's case runs on a large one. Auto offload plans within it; a run that cannot fit even
  // with every offload is refused before loading, naming the smallest budget that would do; one
  // that runs out anyway says in which stage and which switch would help. The CUDA context and
  // the libraries' own handles (not counted by the allocator) are outside it.
  int64_t max_device_memory = 0;

  // Polled while from_pretrained loads, between tensors: returning true stops the loading, which
  // throws Cancelled and frees what was loaded. (A generation is stopped by request_stop().)
  std::function<bool()> stop_requested;
};

struct GenerationRequest {
  std::string prompt;
  std::optional<std::string> negative_prompt;  // preset default: Wan's English negative prompt
  std::optional<uint64_t> seed;
  std::optional<int> num_frames;
  std::optional<int> height;
  std::optional<int> width;
  std::optional<int> num_inference_steps;
  std::optional<double> guidance_scale;
  std::optional<double> flow_shift;
  std::optional<double> fps;
  std::optional<double> cfg_gate_step;  // default: FASTVIDEO_CFG_GATE_STEP, else 1.0 (off)
  int max_sequence_length = 512;
  // FastVideo's request.inputs.latents: start from these values ([1,16,(F-1)/4+1,H/8,W/8], f32)
  // instead of the seeded draw. Empty: noise from the seed.
  std::vector<float> initial_latents;
  // Empty: no file written. A .mp4 or .y4m file (a .y4m's metadata in "<file>.json" beside it);
  // a folder of PNG frames (a path without an extension, or an existing PNG-frame output); or a
  // folder to name an MP4 in from the prompt as FastVideo does (an existing folder, or a path
  // ending in '/'), reserved so parallel runs never share a name. GenerationResult::output_path
  // says where the video went.
  std::filesystem::path output_path;
  bool overwrite = false;
};

struct StageReport {
  std::string name;
  double seconds = 0;
  int64_t peak_bytes = 0;         // peak resident host memory during the stage
  int64_t peak_device_bytes = 0;  // peak device memory in use during the stage (0 on the CPU)
};

struct GenerationResult {
  // Frames as 8-bit RGB, frame-major (F×H×W×3).
  int frames = 0, height = 0, width = 0;
  double fps = 16;
  std::vector<uint8_t> rgb;
  std::vector<float> final_latents;  // [1,16,T,H/8,W/8], the latents handed to the VAE
  std::vector<int64_t> latent_shape;
  std::filesystem::path output_path;  // written file, if any
  std::vector<StageReport> stages;
  int transformer_forwards = 0;             // DiT calls, cond and uncond
  int uncond_fresh = 0, uncond_reused = 0;  // CFG gating counts (fastvideo.md §5)
  // Compile mode: the capture cost paid in this generation (the transformer's and text encoder's
  // graphs of shapes seen for the first time, 0 once they exist; with compile_vae also the VAE's,
  // captured anew in every decode; with mode max-autotune also the GEMM algorithm timing of new
  // shapes) and the transformer forwards and VAE chunks that replayed a graph (the text
  // encoder's replays are logged, not counted here).
  double compile_seconds = 0;
  int graph_replays = 0;
  std::string summary_json() const;  // parameters, stages, counts
  // The resolved request (preset defaults filled in) as recorded in the output's metadata.
  std::vector<std::pair<std::string, std::string>> parameters;
  // With GeneratorOptions::sta_search_candidates: what the mask search recorded.
  std::optional<StaSearchLosses> sta_search;
};

class VideoGenerator {
 public:
  // path: a diffusers checkpoint folder (model_index.json, transformer/, text_encoder/, ...).
  static VideoGenerator from_pretrained(const std::filesystem::path& path,
                                        const GeneratorOptions& options = {});
  // One generation at a time: calls from several threads run one after another. A call from the
  // generator's own progress callback throws Error; a callback that waits for another thread's
  // call waits forever, as that call waits for the generation the callback is part of.
  GenerationResult generate(const GenerationRequest& request);

  // What generate() would run for `request`, without running it: unset fields take the model's
  // preset and every value is checked as generate() checks it (an Error names the field). Returns
  // the parameters the output's metadata would record (GenerationResult::parameters: num_frames,
  // height, width, fps, attention_backend_self, ...). The output path is not looked at. For a
  // server that must refuse a request before it queues it: safe to call from any thread, also while
  // generate() runs.
  std::vector<std::pair<std::string, std::string>> resolve(const GenerationRequest& request) const;

  // from_pretrained's own cost: wall time, peak resident host memory (the whole process's, from
  // the start of loading) and, on a GPU, peak device memory; named "load".
  const StageReport& load_report() const;

  // Progress callback: (step, total, seconds per step) after each denoising step. It takes effect
  // from the next generate() (a call made while another thread generates waits for that run to
  // end), so a run reports to the callback it started with; from threads that take turns on one
  // generator, set it and generate under a lock of your own for each caller's progress.
  using ProgressFn = void (*)(int step, int total, double seconds_per_step, void* user);
  void set_progress(ProgressFn fn, void* user);

  // Stops the generation in progress at its next boundary (a stage, a denoising step, a
  // transformer block on the CPU without sequence or CFG parallelism, a latent frame of the decode
  // unless it is split across GPUs, the end of writing): generate() then throws Cancelled and
  // leaves no output behind. Safe from another thread and from a signal handler (one store to a
  // lock-free atomic). A stop asked for during a generation ends with it, however it ends; one
  // asked for between generations applies to the next.
  void request_stop() noexcept;
  // Drops a stop asked for while no generation runs, which would otherwise stop the next one: for
  // a caller that asks for stops only while its own generation runs and must not have one that
  // landed as that generation ended stop the next (the Python package).
  void drop_pending_stop() noexcept;

  // A moved-from generator throws Error from every call but request_stop (which does nothing).
  VideoGenerator(VideoGenerator&&) noexcept;
  // Destroying (or assigning over) a generator while another thread generates with it stops that
  // generation as request_stop() does and waits for it to end. No other call may be waiting to
  // start on it then; destroying it from its own progress callback aborts the process.
  VideoGenerator& operator=(VideoGenerator&&) noexcept;
  ~VideoGenerator();

 private:
  struct Impl;
  explicit VideoGenerator(std::unique_ptr<Impl> impl);
  Impl& impl() const;                                       // Error when moved from
  static void retire(std::unique_ptr<Impl> impl) noexcept;  // stops and waits for its run
  std::unique_ptr<Impl> impl_;
};

// The file a video at `output` keeps its metadata in beside it: "<output>.json" for a .y4m (whose
// header FFmpeg limits to 96 bytes); empty for the other formats, which hold their own.
std::filesystem::path metadata_file_beside(const std::filesystem::path& output);

// The folder of PNG frames a run with `output` writes (GenerateRequest::output_path's rules);
// empty where `output` names a video file or a folder the video is named in.
std::filesystem::path frame_folder_written_for(const std::filesystem::path& output);

// Whether a run with `output` names its video in that folder from the prompt (a path ending in '/',
// or an existing folder that is no earlier PNG-frame output).
bool output_is_a_folder_to_name_in(const std::filesystem::path& output);

}  // namespace fastvideo
