// fastvideo bench attention: every attention backend available on this GPU at the Wan2.1 DiT's
// attention shapes, timed with CUDA events (median of the timed repeats after warm-up), with the
// kernel that ran. The anchor,
// PyTorch's SDPA on the same shapes and card, is tools/bench/torch_attention_anchor.py.
// --accuracy adds, after the timing table, each self-attention backend's accuracy against attention
// in double on q/k/v recorded from a real-size DiT forward (attention_accuracy.h).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "attention/attention_registry.h"
#include "bench_commands.h"
#include "fastvideo/error.h"
#include "json_output.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include <cuda_runtime.h>

#include "attention/sliding_tile_attn_backend.h"
#include "attention/vmoba_config.h"
#include "attention_accuracy.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "cuda_timer.h"
#include "gpu_clock_sampler.h"
#include "ops/attention.h"
#include "ops/cuda/attention_backend.h"
#include "ops/cuda/flash_attention.h"
#include "ops/cuda/sage_kernels.h"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/sliding_tile_attention.h"
#include "ops/sparse_linear_attention.h"
#include "ops/video_sparse_attention.h"
#include "random_checkpoint/random_weights.h"
#include "sample_stats.h"
#endif

namespace fastvideo::bench {

namespace {

struct AttentionBenchFlags {
  int repeats = 10, warmup = 3, device = 0;
  bool accuracy = false;  // also the accuracy table (attention_accuracy.h)
  std::string json;
  std::vector<std::string> backends;         // empty: every available one
  std::vector<std::string> shapes;           // keys of kShapes; empty: all of them
  std::vector<double> sla_ratios{0.1, 0.5};  // SLA_ATTN's and SAGE_SLA_ATTN's topk_ratio rows
  bool paired = false;  // also time the two --backends call by call, alternating (paired_rows)
  // Each timed call queued behind an untimed one of the same, so that the host's launches overlap
  // the GPU's work as they do inside a forward; by default a call starts on an idle GPU and its
  // time includes the host's work before the first launch and any launch that falls behind.
  bool back_to_back = false;
  // After the --warmup calls, each row's calls go on untimed for this long (warm_up_gpu), so that
  // it is timed at the clock the card settles to under the row's own calls in a loop, not at the
  // one the previous row left (docs/perf.md, session 58).
  int warmup_ms = 500;
  int clock_ms = 20;  // the SM clock read this often during a row's timed calls; 0: not read
};

struct AttentionShape {
  const char* key;  // what --shapes names
  const char* label;
  int64_t B, H, Lq, Lk, D;
  std::array<int64_t, 3> grid;  // the token grid of self-attention (VSA tiles it)
};

// Wan2.1 T2V: 1.3B at 480p (81 frames -> 32760 tokens, 12 heads), the same with the CFG pair
// batched, 14B at 720p (75600 tokens, 40 heads), and 1.3B cross-attention over 512 text tokens.
// "whole-tiles" is the grid FastVideo's VSA kernel was timed on (FastVideo#1034: 40,768 tokens,
// 16 heads, every 4x4x4 tile full), where VSA computes no padding rows; not a Wan shape.
constexpr AttentionShape kShapes[] = {
    {"1.3b", "self 1.3B 480p", 1, 12, 32760, 32760, 128, {21, 30, 52}},
    {"1.3b-cfg", "self 1.3B 480p CFG", 2, 12, 32760, 32760, 128, {21, 30, 52}},
    {"14b", "self 14B 720p", 1, 40, 75600, 75600, 128, {21, 45, 80}},
    {"whole-tiles", "self 28x28x52 whole tiles", 1, 16, 40768, 40768, 128, {28, 28, 52}},
    {"cross", "cross 1.3B 480p", 1, 12, 32760, 512, 128, {}},
};

#ifdef FASTVIDEO_HAVE_CUDA

// random_device_tensor's seeds: q, k, v (also in VSA's tile order), VSA's gate, SLA's proj_l.
constexpr uint64_t kQSeed = 1, kKSeed = 2, kVSeed = 3, kGateSeed = 4, kProjSeed = 5;

// A [B, L, H, D] BF16 device tensor of independent N(0, 1) values (Box-Muller on counter-based
// draws: splitmix64, random_weights.h; on every core), each tensor its own `seed`. Until session 58
// each was one random 2,048-row block repeated along L, from one stream for all, so q = k = v and
// only a third of VSA's tiles differed: the sparse backends selected on inputs unlike any
// activations (docs/perf.md).
Tensor random_device_tensor(int64_t B, int64_t L, int64_t H, int64_t D, Device device,
                            uint64_t seed) {
  const int64_t n = B * L * H * D;
  Tensor host = Tensor::empty({B, L, H, D}, DType::F32);
  float* x = host.data<float>();
  const uint64_t base = splitmix64(seed);
  parallel_for((n + 1) / 2, int64_t(1) << 16, [&](int64_t begin, int64_t end) {
    for (int64_t pair = begin; pair < end; ++pair) {
      const uint64_t a = splitmix64(base + 2 * uint64_t(pair));
      const uint64_t b = splitmix64(base + 2 * uint64_t(pair) + 1);
      const float u1 = float((a >> 40) + 1) * 0x1p-24f;  // (0, 1]: the log stays finite
      const float u2 = float(b >> 40) * 0x1p-24f;
      const float r = std::sqrt(-2.f * std::log(u1));
      float sin_t = 0.f, cos_t = 0.f;
      sincosf(6.2831853f * u2, &sin_t, &cos_t);
      x[2 * pair] = r * cos_t;
      if (2 * pair + 1 < n) x[2 * pair + 1] = r * sin_t;
    }
  });
  return host.to(device).to(DType::BF16);
}

// The 64×64 blocks VSA's fine stage computes for a selection: packed, each query tile's selected
// key tiles in 64-key stages (a tile's valid count rounded up to 8, 16, 32 or 64 rows, as the
// Hopper kernel packs them where vsa_packs_key_tiles), else 64 keys per selected tile.
// `host`: the selection on the CPU.
double vsa_blocks_computed(const VsaTiling& tiling, const Tensor& host, bool packed) {
  const int64_t topk = host.size(3), rows = host.numel() / topk;
  if (!packed) return double(rows * topk);
  const int32_t* tiles = host.data<int32_t>();
  double blocks = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t key_rows = 0;
    for (int64_t j = 0; j < topk; ++j) {
      const int32_t count = tiling.tile_sizes[tiles[r * topk + j]];
      key_rows += ops::cuda::vsa_key_box_rows(count);
    }
    blocks += double((key_rows + 63) / 64);
  }
  return blocks;
}

// The mean share of key tiles that query tiles 2m and 2m + 1 (neighbours in tile order) both
// selected, over every batch item and head: what loading a pair's shared key tiles once would save
// is half of it (docs/perf.md, session 58).
// `host`: the selection on the CPU, [B, H, N, topk].
double vsa_pair_overlap(const Tensor& host) {
  const int64_t n = host.size(2), topk = host.size(3), heads = host.size(0) * host.size(1);
  const int32_t* tiles = host.data<int32_t>();
  std::vector<char> in_first;
  double shared = 0, pairs = 0;
  for (int64_t bh = 0; bh < heads; ++bh) {
    for (int64_t m = 0; m + 1 < n; m += 2) {
      const int32_t* a = tiles + (bh * n + m) * topk;
      const int32_t* b = a + topk;
      in_first.assign(size_t(n), 0);
      for (int64_t j = 0; j < topk; ++j) in_first[size_t(a[j])] = 1;
      for (int64_t j = 0; j < topk; ++j) shared += in_first[size_t(b[j])];
      pairs += 1;
    }
  }
  return pairs > 0 ? shared / (pairs * double(topk)) : 0.0;
}

// VSA rows at sparsity 0.8 and 0.9: the whole forward (tiling, coarse stage, selection, fine stage,
// untiling) without and with a gate, and its fine-stage kernel alone on tiled inputs, TFLOP/s
// over the 64×64 blocks the fine stage computes (4·D·64·64 each, over every batch item, head and
// query tile; vsa_blocks_computed).
template <class Report, class Time>
void report_vsa(const AttentionBackend& vsa, const AttentionShape& s, const Tensor& q,
                const Tensor& k, const Tensor& v, float scale, Report&& report, Time&& time_ms) {
  const bool hopper = CudaContext::get(q.device().index).info().major == 9;
  for (double sparsity : {0.8, 0.9}) {
    const auto md = vsa.build_metadata({.grid = s.grid, .sparsity = sparsity});
    // The backend's tiling: rows in tile order (the transformer's under VSA).
    const VsaTiling& tiling = *vsa_tiling_for(s.grid, /*tile_order=*/true);
    const int64_t topk = vsa_topk(sparsity, tiling.num_tiles);
    // The selection of a real call, for the block count and the fine stage alone.
    VsaSelection selection;
    ops::video_sparse_attention(q, k, v, {}, tiling, topk, scale, &selection);
    const Tensor selected_host = selection.selected.to(Device::cpu());
    const bool packed = hopper && ops::cuda::vsa_packs_key_tiles(s.Lq, tiling.padded_len);
    const double blocks_flop = 4.0 * double(s.D) *
                               vsa_blocks_computed(tiling, selected_host, packed) *
                               double(kVsaTileTokens * kVsaTileTokens);
    const std::string tag = sparsity == 0.8 ? "@0.8" : "@0.9";
    std::printf("%-20s VSA%s: query tiles 2m and 2m + 1 share %.1f %% of their %lld key tiles\n",
                "", tag.c_str(), 100.0 * vsa_pair_overlap(selected_host),
                static_cast<long long>(topk));
    report("VSA" + tag, time_ms([&] { return vsa.run(q, k, v, scale, md.get()); }), blocks_flop);
    // With a gate (FastWan's checkpoints have one; without, G = 0 and the coarse output is
    // skipped).
    AttentionExtras gated;
    gated.gate = random_device_tensor(s.B, s.Lq, s.H, s.D, q.device(), kGateSeed);
    report("VSA gated" + tag, time_ms([&] { return vsa.run(q, k, v, scale, md.get(), gated); }),
           blocks_flop);
    // The fine stage alone on tiled copies (the Hopper kernel with the untiling fused, or the
    // portable kernel).
    auto upload = [&](const std::vector<int32_t>& values) {
      return Tensor::from_vector_i32(values, {int64_t(values.size())}).to(q.device());
    };
    const Tensor sizes = upload(tiling.tile_sizes), token_of_slot = upload(tiling.token_of_slot);
    // Three tensors, as a real call reads: one tensor as q, k and v would serve K and V from L2.
    const Tensor tq = random_device_tensor(s.B, tiling.padded_len, s.H, s.D, q.device(), kQSeed),
                 tk = random_device_tensor(s.B, tiling.padded_len, s.H, s.D, q.device(), kKSeed),
                 tv = random_device_tensor(s.B, tiling.padded_len, s.H, s.D, q.device(), kVSeed);
    const Tensor out = Tensor::empty(hopper ? q.shape() : tq.shape(), DType::BF16, q.device());
    report(std::string(hopper ? "VSA fine (hopper)" : "VSA fine (portable)") + tag, time_ms([&] {
             if (hopper)
               ops::cuda::hopper_video_sparse_fine(tq, tk, tv, sizes, {}, token_of_slot,
                                                   selection.selected, {}, {}, scale, out);
             else
               ops::cuda::portable_block_sparse_attention(tq, tk, tv, selection.selected, sizes,
                                                          scale, out);
             return out;
           }),
           blocks_flop);
    if (!hopper) continue;
    // The same on the rows in tile order where they lie (what the backend runs: the transformer
    // keeps its rows so under VSA), each tile from its first row.
    const Tensor starts = upload(tiling.tile_starts);
    report("VSA fine (hopper, in place)" + tag, time_ms([&] {
             ops::cuda::hopper_video_sparse_fine(q, k, v, sizes, starts, {}, selection.selected, {},
                                                 {}, scale, out);
             return out;
           }),
           blocks_flop);
  }
}

// SLA_ATTN's or SAGE_SLA_ATTN's rows (`label` "SLA" or "SageSLA") at topk_ratio 0.1 and 0.5: the
// whole backend forward (block map, selection, sparse branch, and with proj_l the linear branch),
// with a random f32 proj_l and without one (proj_l = 0: pure block-sparse attention). TFLOP/s count
// only the BLKQ×BLKK blocks the sparse branch computes (4·B·H·D·N_q·topk·BLKQ·BLKK); the block map
// and the linear branch's GEMMs are not counted.
template <class Report, class Time>
void report_sla(const std::string& label, const std::vector<double>& ratios,
                const AttentionBackend& sla, const AttentionShape& s, const Tensor& q,
                const Tensor& k, const Tensor& v, float scale, Report&& report, Time&& time_ms) {
  const Tensor w = random_device_tensor(1, s.D, 1, s.D, q.device(), kProjSeed)
                       .reshape({s.D, s.D})
                       .to(DType::F32);
  AttentionExtras proj_l;
  proj_l.proj_l_weight = w;
  proj_l.proj_l_bias = Tensor::zeros({s.D}, DType::F32, q.device());
  const SlaConfig blocks;  // FastVideo's BLKQ 128, BLKK 64, as the backend's metadata uses
  const int64_t query_blocks = (s.Lq + blocks.block_q - 1) / blocks.block_q;
  const int64_t key_blocks = (s.Lk + blocks.block_k - 1) / blocks.block_k;
  for (double ratio : ratios) {
    const auto md = sla.build_metadata({.grid = s.grid, .topk_ratio = ratio});
    const int64_t topk = sla_topk(ratio, key_blocks);
    const double blocks_flop = 4.0 * double(s.B * s.H * s.D) * double(query_blocks * topk) *
                               double(blocks.block_q * blocks.block_k);
    const std::string tag = str_cat("@", ratio);
    report(label + tag, time_ms([&] { return sla.run(q, k, v, scale, md.get(), proj_l); }),
           blocks_flop);
    report(label + " no proj_l" + tag, time_ms([&] { return sla.run(q, k, v, scale, md.get()); }),
           blocks_flop);
  }
}

// STA rows with its default 3x3x3-tile window (at 1.3B 480p, 27 of 112 tiles: about a quarter),
// TFLOP/s over the query–key pairs the window holds (each query tile's tokens times its key
// tiles' tokens), whatever padding the kernel computes besides.
template <class Report, class Time>
void report_sta(const AttentionBackend& sta, const AttentionShape& s, const Tensor& q,
                const Tensor& k, const Tensor& v, float scale, Report&& report, Time&& time_ms) {
  const auto md = sta.build_metadata({.grid = s.grid});
  const auto tiling = sta_tiling_for(s.grid);
  StaWindow window{};
  for (int a = 0; a < 3; ++a)
    window[size_t(a)] = std::min(kStaDefaultWindow[size_t(a)], tiling->tiles[size_t(a)]);
  const Tensor lists = sta_tile_lists(*tiling, 1, std::vector<StaWindow>(1, window));
  double pairs = 0;
  const int64_t L = lists.size(3);
  for (int64_t t = 0; t < tiling->num_tiles; ++t)
    for (int64_t j = 0; j < L; ++j)
      if (const int32_t key = lists.data<int32_t>()[t * L + j]; key >= 0)
        pairs += double(tiling->tile_sizes[size_t(t)]) * double(tiling->tile_sizes[size_t(key)]);
  report(str_cat("STA ", window[0], "x", window[1], "x", window[2]),
         time_ms([&] { return sta.run(q, k, v, scale, md.get()); }),
         4.0 * double(s.B * s.H * s.D) * pairs);
}

// VMoBA rows with FastVideo's 480p config at a sparse step, one per chunking (layers 0, 1, 2:
// temporal, spatial, spatio-temporal), selection included. The selection is data-dependent, so
// TFLOP/s is dense-equivalent (the dense attention's FLOP over the time).
template <class Report, class Time>
void report_vmoba(const AttentionBackend& vmoba, const AttentionShape& s, const Tensor& q,
                  const Tensor& k, const Tensor& v, float scale, Report&& report, Time&& time_ms) {
  const auto config = std::make_shared<const VmobaConfig>(
      VmobaConfig::from_json_text(kFastVideoVmoba480Json, "FastVideo's wan_1.3B_77_480_832.json"));
  const auto md = vmoba.build_metadata(
      {.step = int(config->first_full_step), .grid = s.grid, .moba_config = config});
  for (int layer : {0, 1, 2}) {
    AttentionExtras extras;
    extras.layer = layer;
    report(str_cat("VMoBA ", vmoba_partition_name(config->partition(layer))),
           time_ms([&] { return vmoba.run(q, k, v, scale, md.get(), extras); }));
  }
}

// The registry's backends with FLASH_ATTN first: each shape's rows are compared with its time.
std::vector<const AttentionBackend*> anchor_first(std::vector<const AttentionBackend*> backends) {
  std::stable_partition(backends.begin(), backends.end(),
                        [](const AttentionBackend* b) { return b->name() == "FLASH_ATTN"; });
  return backends;
}

// What every row reports: the median and the minimum of its timed samples (ms), and the clock
// they ran at (empty for --paired's rows, whose calls alternate two backends).
struct RowTime {
  double median, min;
  ClockSummary clock;
};

RowTime row_time(std::vector<double> ms, ClockSummary clock = {}) {
  const SampleStats s = sample_stats(std::move(ms));
  return {s.median, s.min, clock};
}

// --paired: the two backends' calls timed in pairs, A B then B A and so on, so that both see the
// same stretch of the card's clock (on an H200 under its 700 W cap the clock moves from row to
// row, which moves the ratio of two rows' medians as much as the kernels do: docs/perf.md), and
// neither is always the one that starts after the pause for the previous pair's results. Reports
// each backend's median over its paired calls and the median of the per-pair time ratios A / B
// (above 1: B is faster).
template <class Report>
void paired_rows(const AttentionBackend& a, const AttentionBackend& b, const Tensor& q,
                 const Tensor& k, const Tensor& v, float scale, int warmup, int warmup_ms,
                 int repeats, cudaStream_t stream, Report&& report) {
  cudaEvent_t marks[3];
  for (cudaEvent_t& e : marks) FV_CUDA_CHECK(cudaEventCreate(&e));
  warm_up_gpu(stream, warmup, warmup_ms, [&] {
    a.run(q, k, v, scale);
    b.run(q, k, v, scale);
  });
  std::vector<double> ms_a, ms_b, ratio;
  for (int i = 0; i < repeats; ++i) {
    const bool a_first = i % 2 == 0;
    const AttentionBackend& first = a_first ? a : b;
    const AttentionBackend& second = a_first ? b : a;
    FV_CUDA_CHECK(cudaEventRecord(marks[0], stream));
    first.run(q, k, v, scale);
    FV_CUDA_CHECK(cudaEventRecord(marks[1], stream));
    second.run(q, k, v, scale);
    FV_CUDA_CHECK(cudaEventRecord(marks[2], stream));
    FV_CUDA_CHECK(cudaEventSynchronize(marks[2]));
    float t_first = 0, t_second = 0;
    FV_CUDA_CHECK(cudaEventElapsedTime(&t_first, marks[0], marks[1]));
    FV_CUDA_CHECK(cudaEventElapsedTime(&t_second, marks[1], marks[2]));
    const float ta = a_first ? t_first : t_second, tb = a_first ? t_second : t_first;
    ms_a.push_back(ta);
    ms_b.push_back(tb);
    ratio.push_back(double(ta) / double(tb));
  }
  for (cudaEvent_t e : marks) FV_CUDA_CHECK(cudaEventDestroy(e));
  report(str_cat(a.name(), " (paired)"), row_time(ms_a));
  report(str_cat(b.name(), " (paired)"), row_time(ms_b));
  std::printf(
      "%-20s paired (each first in half of them): %s / %s time per pair, median %.3fx over %d "
      "pairs\n",
      "", std::string(a.name()).c_str(), std::string(b.name()).c_str(), sample_stats(ratio).median,
      repeats);
}

int run_bench_attention(const AttentionBenchFlags& f) {
  FV_CHECK(f.repeats >= 1 && f.warmup >= 1, "bench attention: --repeats and --warmup must be >= 1");
  FV_CHECK(f.warmup_ms >= 0, "bench attention: --warmup-ms must be >= 0, got ", f.warmup_ms);
  FV_CHECK(f.clock_ms >= 0, "bench attention: --clock-ms must be >= 0, got ", f.clock_ms);
  FV_CHECK(!f.paired || f.backends.size() == 2,
           "bench attention: --paired needs exactly two --backends (A,B: A's time over B's), got ",
           f.backends.size());
  CudaContext& ctx = use_cuda_device(f.device);
  const Device device = Device::cuda(f.device);
  const AttentionDevice attention_device = attention_device_for(device);
  // --backends: each name must be a backend that runs here (registry.get lists the valid names).
  std::vector<const AttentionBackend*> wanted;
  for (const std::string& name : f.backends) {
    const AttentionBackend& b = AttentionBackendRegistry::builtin().get(name, "--backends");
    const AttentionBackendStatus status = b.status(attention_device);
    FV_CHECK(status.available(), "bench attention: --backends ", name,
             " cannot run here: ", status.reason);
    wanted.push_back(&b);
  }
  std::string keys;
  for (const AttentionShape& s : kShapes) keys += str_cat(keys.empty() ? "" : ", ", s.key);
  for (const std::string& key : f.shapes) {
    FV_CHECK(std::any_of(std::begin(kShapes), std::end(kShapes),
                         [&](const AttentionShape& s) { return key == s.key; }),
             "bench attention: --shapes ", key, " is not a shape here (", keys, ")");
  }
  nlohmann::ordered_json out;
  out["device"] = ctx.info().name;
  out["repeats"] = f.repeats;
  out["warmup"] = f.warmup;
  out["back_to_back"] = f.back_to_back;
  out["warmup_ms"] = f.warmup_ms;
  std::printf(
      "fastvideo bench attention on %s (BF16, median of %d after %d warm-up calls and %d ms%s)\n\n",
      ctx.info().name.c_str(), f.repeats, f.warmup, f.warmup_ms,
      f.back_to_back ? ", each call queued behind an untimed one" : "");
  // "vs FLASH": this shape's FLASH_ATTN median over the row's (above 1: the row is faster), the
  // anchor timed first in the same run; "-" where FLASH_ATTN was not among --backends.
  // "SM MHz": the mean SM clock over the row's timed calls (NVML, gpu_clock_sampler.h); "-"
  // without NVML, with --clock-ms 0, and for --paired's rows.
  GpuClockSampler clocks(f.device, f.clock_ms);
  out["clock_ms"] = clocks.available() ? f.clock_ms : 0;
  std::printf("%-20s %3s %3s %7s %7s %4s  %-20s %10s %10s %9s %9s %7s\n", "shape", "B", "H", "Lq",
              "Lk", "D", "backend/kernel", "median ms", "min ms", "TFLOP/s", "vs FLASH", "SM MHz");

  cudaEvent_t start = nullptr, stop = nullptr;
  FV_CUDA_CHECK(cudaEventCreate(&start));
  FV_CUDA_CHECK(cudaEventCreate(&stop));
  for (const AttentionShape& s : kShapes) {
    if (!f.shapes.empty() && std::find(f.shapes.begin(), f.shapes.end(), s.key) == f.shapes.end())
      continue;
    const Tensor q = random_device_tensor(s.B, s.Lq, s.H, s.D, device, kQSeed);
    const Tensor k = random_device_tensor(s.B, s.Lk, s.H, s.D, device, kKSeed);
    const Tensor v = random_device_tensor(s.B, s.Lk, s.H, s.D, device, kVSeed);
    const float scale = 1.0f / std::sqrt(float(s.D));
    const bool cudnn = ops::cuda::attention_uses_cudnn(q, k, v, scale);
    const double flop = 4.0 * double(s.B) * double(s.H) * double(s.Lq) * double(s.Lk) * double(s.D);
    // Median and minimum ms of `call` over the timed repeats, after the warm-up calls.
    auto time_ms = [&](auto&& call) {
      warm_up_gpu(ctx.stream(), f.warmup, f.warmup_ms, call);
      std::vector<double> ms;
      clocks.start();
      for (int i = 0; i < f.repeats; ++i) {
        if (f.back_to_back) call();
        FV_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
        call();
        FV_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
        FV_CUDA_CHECK(cudaEventSynchronize(stop));
        float elapsed = 0;
        FV_CUDA_CHECK(cudaEventElapsedTime(&elapsed, start, stop));
        ms.push_back(elapsed);
      }
      return row_time(std::move(ms), clocks.stop());
    };
    // TFLOP/s over `work` FLOP (default: the dense attention's; sparse rows count the blocks they
    // compute).
    double anchor_ms = 0;  // this shape's FLASH_ATTN median, once timed
    auto report = [&](const std::string& path, const RowTime& t, double work = 0) {
      const double median = t.median, fastest = t.min;
      const double tflops = (work > 0 ? work : flop) / (median * 1e-3) / 1e12;
      if (anchor_ms == 0 && path.rfind("FLASH_ATTN", 0) == 0) anchor_ms = median;
      char vs[32] = "-", mhz[32] = "-";
      if (anchor_ms > 0) std::snprintf(vs, sizeof vs, "%.2fx", anchor_ms / median);
      if (t.clock.samples > 0) std::snprintf(mhz, sizeof mhz, "%.0f", t.clock.mean_mhz);
      std::printf("%-20s %3lld %3lld %7lld %7lld %4lld  %-20s %10.3f %10.3f %9.1f %9s %7s\n",
                  s.label, static_cast<long long>(s.B), static_cast<long long>(s.H),
                  static_cast<long long>(s.Lq), static_cast<long long>(s.Lk),
                  static_cast<long long>(s.D), path.c_str(), median, fastest, tflops, vs, mhz);
      nlohmann::ordered_json row{
          {"label", s.label},  {"B", s.B},        {"H", s.H},     {"Lq", s.Lq},
          {"Lk", s.Lk},        {"D", s.D},        {"path", path}, {"median_ms", median},
          {"min_ms", fastest}, {"tflops", tflops}};
      if (anchor_ms > 0) row["flash_attn_median_over_this"] = anchor_ms / median;
      if (t.clock.samples > 0) {
        row["sm_mhz_mean"] = t.clock.mean_mhz;
        row["sm_mhz_min"] = t.clock.min_mhz;
        row["clock_samples"] = t.clock.samples;
      }
      if (t.clock.watts >= 0) row["power_w_at_end"] = t.clock.watts;
      out["shapes"].push_back(std::move(row));
    };
    // Every backend available here that runs this kind of layer, through the interface the
    // models use; FLASH_ATTN's portable kernel also where the Hopper one is the default.
    const bool cross = s.Lq != s.Lk;
    for (const AttentionBackend* b : anchor_first(AttentionBackendRegistry::builtin().backends())) {
      const AttentionCapabilities& caps = b->capabilities();
      if ((!wanted.empty() && std::find(wanted.begin(), wanted.end(), b) == wanted.end()) ||
          !b->status(attention_device).available() ||
          !caps.supports_dtype(DType::BF16, attention_device) ||
          !caps.supports_head_dim(s.D, attention_device) ||
          !(cross ? caps.cross_attention : caps.self_attention))
        continue;
      std::string path(b->name());
      if (path == "VIDEO_SPARSE_ATTN") {
        report_vsa(*b, s, q, k, v, scale, report, time_ms);
        continue;
      }
      if (path == "VMOBA_ATTN") {
        report_vmoba(*b, s, q, k, v, scale, report, time_ms);
        continue;
      }
      if (path == "SLIDING_TILE_ATTN") {
        report_sta(*b, s, q, k, v, scale, report, time_ms);
        continue;
      }
      if (path == "SLA_ATTN" || path == "SAGE_SLA_ATTN") {
        report_sla(path == "SLA_ATTN" ? "SLA" : "SageSLA", f.sla_ratios, *b, s, q, k, v, scale,
                   report, time_ms);
        continue;
      }
      if (path == "TORCH_SDPA") path += cudnn ? "/cudnn" : "/gemm_softmax";
      if (path == "FLASH_ATTN")
        path +=
            ops::cuda::flash_attention_supported(q, k, v, ops::cuda::FlashAttentionKernel::Hopper)
                ? "/hopper"
                : "/portable";
      report(path, time_ms([&] { return b->run(q, k, v, scale); }));
      if (path == "FLASH_ATTN/hopper") {
        report("FLASH_ATTN/portable", time_ms([&] {
                 return ops::cuda::flash_attention(q, k, v, scale, nullptr,
                                                   ops::cuda::FlashAttentionKernel::Portable);
               }));
      }
      // SAGE_ATTN's portable kernels (A100's FP16 P·V, L40S's FP8 P·V) also run on Hopper.
      if (path == "SAGE_ATTN" && ctx.info().major == 9) {
        for (const auto& [kernel, label] : kSagePortableRows) {
          report(label,
                 time_ms([&] { return ops::cuda::sage_attention_with(kernel, q, k, v, scale); }));
        }
        // Its two halves apart (issue 10: is the pre-pass worth fusing into q/k/v's producers?):
        // the quantization pre-pass alone (no FLOPs counted: its TFLOP/s column reads 0), and
        // the Hopper kernel on the pre-pass's output.
        const float multiplier = sage_q_multiplier(scale);
        report("SAGE_ATTN/pre-pass",
               time_ms([&] { return ops::cuda::sage_quantize(q, k, v, multiplier).q_int8; }), 1.0);
        const ops::cuda::SageDeviceInputs quantized = ops::cuda::sage_quantize(q, k, v, multiplier);
        const Tensor sage_out = Tensor::empty(q.shape(), DType::BF16, q.device());
        report("SAGE_ATTN/kernel", time_ms([&] {
                 ops::cuda::hopper_sage_attention(quantized, sage_out);
                 return sage_out;
               }));
      }
    }
    if (f.paired && !cross)
      paired_rows(*wanted[0], *wanted[1], q, k, v, scale, f.warmup, f.warmup_ms, f.repeats,
                  ctx.stream(), report);
  }
  FV_CUDA_CHECK(cudaEventDestroy(start));
  FV_CUDA_CHECK(cudaEventDestroy(stop));
  if (f.accuracy) out["accuracy"] = run_attention_accuracy(f.device, wanted);
  if (!f.json.empty()) write_json_results(f.json, out);
  return 0;
}

#else

int run_bench_attention(const AttentionBenchFlags&) {
  fail("bench attention needs the CUDA backend, and this build has none");
}

#endif

}  // namespace

Action add_attention_bench(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("attention",
                                   "every attention backend available on this GPU at Wan2.1 DiT "
                                   "shapes: ms and TFLOP/s");
  auto f = std::make_shared<AttentionBenchFlags>();
  cmd->add_option("--repeats", f->repeats, "timed repeats (median; at least 10 recommended)");
  cmd->add_option("--warmup", f->warmup, "untimed calls first (the first builds the plan)");
  cmd->add_option("--warmup-ms", f->warmup_ms,
                  "then untimed calls for this long per row, so each row is timed in the card's "
                  "steady state under its power cap (default 500; 0: none)");
  cmd->add_option("--clock-ms", f->clock_ms,
                  "read the SM clock this often (ms) during each row's timed calls, through NVML, "
                  "for the SM MHz column (default 20; 0: not at all)");
  cmd->add_option("--device", f->device, "CUDA device index");
  add_json_option(*cmd, f->json);
  cmd->add_flag("--accuracy", f->accuracy,
                "after the timings, each self-attention backend's cosine similarity and rel-L2 "
                "against attention in double, on q/k/v of a random-weights 1.3B forward at 480p "
                "(blocks 0, 15, 29; block 15 with a K outlier and x20)");
  cmd->add_option("--backends", f->backends, "only these backends (default: every available one)")
      ->delimiter(',');
  cmd->add_option("--shapes", f->shapes,
                  "only these shapes: 1.3b, 1.3b-cfg, 14b, whole-tiles, cross (default: all)")
      ->delimiter(',');
  cmd->add_flag("--paired", f->paired,
                "also time the two --backends call by call, alternating, and print the median of "
                "the per-pair ratios (both see the same stretch of the card's clock)");
  cmd->add_flag("--back-to-back", f->back_to_back,
                "queue each timed call behind an untimed one, so the host's launches overlap the "
                "GPU's work as inside a forward (default: each call starts on an idle GPU)");
  cmd->add_option("--sla-ratios", f->sla_ratios,
                  "SLA_ATTN's and SAGE_SLA_ATTN's topk_ratio rows, each in (0, 1] (default: "
                  "0.1,0.5)")
      ->delimiter(',');
  return [cmd, f] {
    for (const double r : f->sla_ratios)
      FV_CHECK(std::isfinite(r) && r > 0 && r <= 1, "bench attention: --sla-ratios ", r,
               " is outside (0, 1] (the fraction of key blocks SLA attends to exactly)");
    // Read only by the SLA rows: given without them, they would do nothing.
    const bool sla_rows =
        f->backends.empty() || std::any_of(f->backends.begin(), f->backends.end(), [](auto& b) {
          const AttentionBackend* backend = AttentionBackendRegistry::builtin().find(b);
          return backend && (backend->name() == "SLA_ATTN" || backend->name() == "SAGE_SLA_ATTN");
        });
    FV_CHECK(
        cmd->count("--sla-ratios") == 0 || sla_rows,
        "bench attention: --sla-ratios applies to the SLA_ATTN and SAGE_SLA_ATTN rows; add one "
        "of them to --backends, or leave --sla-ratios out");
    return run_bench_attention(*f);
  };
}

}  // namespace fastvideo::bench
