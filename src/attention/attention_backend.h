// An attention backend (DESIGN §4, fastvideo.md §2.2): FastVideo's name for it, what it can run
// (device, compute capability, dtypes, head dims, self or cross attention, extra weights), whether
// it runs here and why not, the metadata it builds once per denoising step (tile lists, masks,
// top-k, quantization scales; none for dense backends) and the attention itself, always in the
// engine's layout q [B, Sq, H, D], k/v [B, Sk, H, D(v)] -> [B, Sq, H, Dv].
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attention/attention_device.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "ops/token_tiling.h"

namespace fastvideo {

struct AttentionCapabilities {
  bool cpu = false;  // has a CPU implementation
  bool gpu = false;  // runs on NVIDIA GPUs from min_compute to max_compute
  ComputeCapability min_compute{8, 0};
  ComputeCapability max_compute{99, 9};
  std::string gpu_requirement;     // in words, for messages: "a Blackwell GPU (sm_100 or sm_103)"
  std::vector<DType> dtypes;       // of q, k, v
  std::vector<int64_t> head_dims;  // empty: any head dim
  // Narrower on GPUs, where the kernels run (empty: as above): selection refuses the rest there
  // by name, before any work, and `fastvideo backends` lists them.
  std::vector<DType> gpu_dtypes;
  std::vector<int64_t> gpu_head_dims;
  bool self_attention = true;
  bool cross_attention = false;            // FastVideo runs cross-attention dense only (§2.4)
  std::vector<std::string> extra_weights;  // per attention layer, e.g. VSA's to_gate_compress

  bool supports_dtype(DType dtype, const AttentionDevice& device) const;
  bool supports_head_dim(int64_t head_dim, const AttentionDevice& device) const;
  std::string describe() const;  // one line for `fastvideo backends`
};

struct AttentionBackendStatus {
  enum class Kind { Available, NotInThisVersion, UnsupportedHardware };
  Kind kind = Kind::Available;
  std::string reason;  // why it runs here, or why not

  bool available() const { return kind == Kind::Available; }
  std::string_view kind_name() const;  // "available", "not in this version", "unsupported hardware"
};

// What a backend's per-step metadata builder is told (FastVideo's
// AttentionMetadataBuilder.build(current_timestep, raw_latent_shape, patch_size, VSA_sparsity)).
class StaSearchRecorder;
struct VmobaConfig;

struct AttentionStepInfo {
  int step = 0;                             // denoising step index
  double timestep = 0;                      // the scheduler's timestep
  std::array<int64_t, 3> grid{};            // token grid after patching: T, H, W
  double sparsity = 0;                      // VSA_sparsity
  double topk_ratio = 0.1;                  // SLA's topk_ratio
  StaSearchRecorder* sta_search = nullptr;  // STA's mask search, when one runs (sta_search.h)
  std::shared_ptr<const VmobaConfig> moba_config =
      nullptr;  // VMOBA_ATTN's moba_config_path, when given
  // The run's extent, for check_step (0: not known): denoising steps, blocks, attention heads.
  int steps = 0, layers = 0, heads = 0;
};

// What a layer hands its backend beyond q, k, v, computed from the weights the backend's
// extra_weights name; a backend refuses what it does not take.
struct AttentionExtras {
  Tensor gate;                        // VSA: G = to_gate_compress(norm1 output) [B, Sq, H, Dv]
  Tensor proj_l_weight, proj_l_bias;  // SLA: proj_l [D, D] and [D], f32
  int layer = 0;                      // the transformer block (STA's windows are per layer)
  // The model's index of the first head q, k, v hold: sequence parallelism gives each rank a
  // slice of the heads, and backends with per-head settings (STA's windows) look them up by it.
  int first_head = 0;
};

// Per-step metadata; each backend that needs some derives its own.
struct AttentionMetadata {
  virtual ~AttentionMetadata() = default;
  // Everything in it that changes the kernels a forward launches or their arguments, as text:
  // compile mode replays one captured graph for every step whose metadata has the same key, so
  // any device memory the metadata's launches read must outlive the graph. Nothing: steps that
  // cannot be replayed (host work per call), which compile mode runs eagerly.
  virtual std::optional<std::string> graph_key() const = 0;
  // The order the transformer keeps its rows in through the blocks, for backends that read them
  // in tiles (VSA: ops/token_tiling.h, tile_order): null for raster order.
  virtual const TokenTiling* row_order() const { return nullptr; }
};

class AttentionBackend {
 public:
  virtual ~AttentionBackend() = default;

  // The FastVideo AttentionBackendEnum spelling (fastvideo.md §2.2), or "nvfp4_fa4".
  virtual std::string_view name() const = 0;
  virtual const AttentionCapabilities& capabilities() const = 0;
  virtual AttentionBackendStatus status(const AttentionDevice& device) const = 0;

  // Whether automatic selection may pick this backend on `device` (it is available there and was
  // measured faster than the next backend in the automatic order). Explicit requests ignore it.
  virtual bool chosen_automatically_on(const AttentionDevice&) const { return true; }

  // Once per denoising step, shared by every layer of the step. Dense backends need none.
  virtual std::unique_ptr<AttentionMetadata> build_metadata(const AttentionStepInfo& step) const;

  // Refuses, before any work, a run this backend could not make on the step's token grid (SLA's
  // topk_ratio keeping no key block; an STA search whose every candidate covers the grid; an STA
  // mask strategy missing a step, layer or head of the run, or a window larger than the grid).
  // The validate stage asks it of each request, so resolve() and generate() refuse alike.
  virtual void check_step(const AttentionStepInfo&) const {}

  // Why compile mode cannot replay this backend's steps in CUDA graphs (host work in every call),
  // or empty when it can. The pipeline refuses compile mode with such a backend before loading.
  virtual std::string_view why_not_replayable() const { return {}; }

  // softmax(q·kᵀ·scale)·v. q [B, Sq, H, D], k [B, Sk, H, D], v [B, Sk, H, Dv] -> [B, Sq, H, Dv];
  // metadata from build_metadata for this step (null for dense backends). extras: VSA's gate
  // (undefined: G = 0) for a backend whose extra_weights name to_gate_compress, SLA's proj_l
  // (undefined: zero) for one that names proj_l; every other backend refuses them.
  Tensor run(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
             const AttentionMetadata* metadata = nullptr, const AttentionExtras& extras = {}) const;

  // Whether this backend's extra_weights name `weight` (to_gate_compress, proj_l).
  bool takes(std::string_view weight) const;
  bool takes_gate() const { return takes("to_gate_compress"); }

 protected:
  virtual Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                         const AttentionMetadata* metadata,
                         const AttentionExtras& extras) const = 0;
};

// Whether `device` meets the capabilities' device requirement; the reason names the requirement
// and the device when not.
AttentionBackendStatus hardware_status(std::string_view backend,
                                       const AttentionCapabilities& capabilities,
                                       const AttentionDevice& device);

// hardware_status for a backend whose GPU path is this build's CUDA kernels: on a GPU, a build
// without the CUDA backend says so (NotInThisVersion, "this build has no CUDA backend, so no
// <backend> kernels").
AttentionBackendStatus kernel_hardware_status(std::string_view backend,
                                              const AttentionCapabilities& capabilities,
                                              const AttentionDevice& device);

// The tile-list backends (SLIDING_TILE_ATTN, VMOBA_ATTN; ops/tile_list_self_attention.h): the CPU
// in f32, sm_80+ GPUs in bf16 with head_dim 128; their status adds which kernel runs and that
// they change the result, so they run only when asked for.
const AttentionCapabilities& tile_list_capabilities();
AttentionBackendStatus tile_list_status(std::string_view backend, const AttentionDevice& device);

}  // namespace fastvideo
