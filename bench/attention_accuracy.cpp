#include "attention_accuracy.h"

#ifdef FASTVIDEO_HAVE_CUDA

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "attention/attention_registry.h"
#include "attention/attention_selection.h"
#include "attention_accuracy_math.h"
#include "core/cuda/cuda_context.h"
#include "core/parallel.h"
#include "fastvideo/error.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/wan_geometry.h"
#include "models/wan/wan_presets.h"
#include "ops/cuda/attention_backend.h"
#include "ops/cuda/flash_attention.h"
#include "ops/cuda/sage_kernels.h"
#include "random_dit.h"

namespace fastvideo::bench {

namespace {

// The forward the inputs come from: bench dit's 1.3B at its benchmark size, at a mid timestep.
constexpr int kFrames = 81, kHeight = 480, kWidth = 832;
constexpr double kTimestep = 500;
constexpr int kRecordedLayers[] = {0, 15, 29};
constexpr int kDerivedFromLayer = 15;  // the K-outlier and ×20 cases start from this block
constexpr int64_t kReferenceRows = 256;

// One self-attention call's inputs on the host: the BF16 values the backend got, widened to f32
// (exactly), [1, S, H, D] contiguous.
struct AttentionInputs {
  Tensor q, k, v;
  float scale = 0;
};

Tensor widened_host_copy(const Tensor& t) { return t.to(Device::cpu()).to(DType::F32); }

// Runs `inner` and keeps host copies of the inputs of the calls numbered in `layers`. The
// transformer calls its self-attention once per block, in block order (WanTransformer::forward,
// block_forward step 1), so call n of one forward is block n. Everything else is `inner`'s, so
// the transformer loads and runs as it would with `inner`.
class RecordingAttention final : public AttentionBackend {
 public:
  RecordingAttention(const AttentionBackend& inner, std::span<const int> layers)
      : inner_(inner), layers_(layers.begin(), layers.end()) {}
  std::string_view name() const override { return inner_.name(); }
  const AttentionCapabilities& capabilities() const override { return inner_.capabilities(); }
  AttentionBackendStatus status(const AttentionDevice& d) const override {
    return inner_.status(d);
  }
  int calls() const { return calls_; }
  std::map<int, AttentionInputs> take_recorded() { return std::move(recorded_); }

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override {
    const int call = calls_++;
    // The host copies synchronise the stream: the recorded values are those this call reads.
    if (std::find(layers_.begin(), layers_.end(), call) != layers_.end())
      recorded_[call] = {widened_host_copy(q), widened_host_copy(k), widened_host_copy(v), scale};
    return inner_.run(q, k, v, scale, metadata, extras);
  }

 private:
  const AttentionBackend& inner_;
  std::vector<int> layers_;
  mutable int calls_ = 0;
  mutable std::map<int, AttentionInputs> recorded_;
};

struct Recording {
  std::map<int, AttentionInputs> layers;  // by block index
  std::array<int64_t, 3> grid{};          // the token grid (VIDEO_SPARSE_ATTN tiles it)
};

// One forward of the 1.3B transformer with random weights (bench dit's, random_dit.h) on
// `device`, self-attention through the automatic dense backend with the recorder in front.
Recording record_self_attention_inputs(int device_index) {
  const Device device = Device::cuda(device_index);
  const WanTransformerConfig config = wan_transformer_config(wan_model_preset("1.3b"));
  const WanGeometry geometry(WanVaeConfig{}, config);
  const Shape latent_shape = geometry.latent_shape(kFrames, kHeight, kWidth);
  // Automatic, not FASTVIDEO_ATTENTION_BACKEND: the inputs must not depend on the environment.
  const AttentionSelection attention = select_attention_backends(
      "", std::nullopt, attention_device_for(device), {config.attention_head_dim, DType::BF16});
  std::printf("recording: Wan2.1 1.3B transformer, random weights, %dx%dx%d, t = %g; %s\n", kHeight,
              kWidth, kFrames, kTimestep, attention.describe().c_str());
  RecordingAttention recorder(*attention.self, kRecordedLayers);
  {
    // The model holds a pointer to the recorder, which outlives it (declared first).
    WanTransformer dit(config, random_dit_weights(config, device), recorder, *attention.cross);
    const auto [latents, text] = random_dit_inputs(dit, latent_shape);
    const double timesteps[] = {kTimestep};
    dit.forward(latents, timesteps, text);
    use_cuda_device(device_index).synchronize();
  }
  FV_CHECK(recorder.calls() == config.num_layers, "bench attention --accuracy: ", recorder.calls(),
           " self-attention calls in one forward of ", config.num_layers,
           " blocks; call n is no longer block n");
  Recording r{recorder.take_recorded(), geometry.token_grid(latent_shape)};
  for (int layer : kRecordedLayers)
    FV_CHECK(r.layers.count(layer), "bench attention --accuracy: block ", layer, " not recorded");
  return r;
}

struct AccuracyCase {
  std::string label;
  int layer = 0;
  AttentionInputs in;
  bool reference = true;  // false: judged on NaN/Inf alone (×20)
};

std::vector<AccuracyCase> accuracy_cases(const Recording& r) {
  std::vector<AccuracyCase> cases;
  for (int layer : kRecordedLayers)
    cases.push_back({"layer " + std::to_string(layer), layer, r.layers.at(layer), true});
  const AttentionInputs& base = r.layers.at(kDerivedFromLayer);
  AttentionInputs outlier = base;
  outlier.k = with_key_channel_outlier(base.k);
  cases.push_back({"layer " + std::to_string(kDerivedFromLayer) + " + K outlier", kDerivedFromLayer,
                   outlier, true});
  AttentionInputs big = base;
  big.q = scaled_bf16(base.q, kMagnitudeFactor);
  big.k = scaled_bf16(base.k, kMagnitudeFactor);
  big.v = scaled_bf16(base.v, kMagnitudeFactor);
  cases.push_back(
      {"layer " + std::to_string(kDerivedFromLayer) + " x20", kDerivedFromLayer, big, false});
  return cases;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float x : t.f32()) m = std::max(m, double(std::fabs(x)));
  return m;
}

using AttentionCall =
    std::function<Tensor(const Tensor& q, const Tensor& k, const Tensor& v, float scale)>;
struct AccuracyRow {
  std::string path;  // as the timing table names it
  AttentionCall run;
};

// The timing table's self-attention rows on these shapes, where they mean something against dense
// attention: every registry backend available here that runs BF16 self-attention at this head
// dim, through the interface the models use (SAGE_ATTN among them on Hopper); FLASH_ATTN/portable
// beside FLASH_ATTN/hopper and SAGE_ATTN's portable kernels beside SAGE_ATTN, as there. Every
// backend gets the step metadata of a step that keeps every block (dense backends build none), so
// the sparse rows check their kernels' numerics, not their sparsity's approximation:
// VIDEO_SPARSE_ATTN at sparsity 0 (every tile; G = 0, so no coarse branch) and SLA_ATTN at
// topk_ratio 1.0 without proj_l (every block, no linear branch).
std::vector<AccuracyRow> accuracy_rows(const std::vector<const AttentionBackend*>& wanted,
                                       const AttentionDevice& attention_device, const Tensor& q,
                                       const Tensor& k, const Tensor& v, float scale,
                                       std::array<int64_t, 3> grid) {
  const AttentionStepInfo every_block{.grid = grid, .sparsity = 0.0, .topk_ratio = 1.0};
  std::vector<AccuracyRow> rows;
  for (const AttentionBackend* b : AttentionBackendRegistry::builtin().backends()) {
    const AttentionCapabilities& caps = b->capabilities();
    if ((!wanted.empty() && std::find(wanted.begin(), wanted.end(), b) == wanted.end()) ||
        !b->status(attention_device).available() ||
        !caps.supports_dtype(DType::BF16, attention_device) ||
        !caps.supports_head_dim(q.size(3), attention_device) || !caps.self_attention)
      continue;
    std::string path(b->name());
    std::shared_ptr<const AttentionMetadata> md;
    try {
      md = b->build_metadata(every_block);
    } catch (const Error& e) {
      // A refusal is a row of the table (every case shows it), not the end of it.
      const std::string refused = e.what();
      rows.push_back(
          {path, [refused](const Tensor&, const Tensor&, const Tensor&, float) -> Tensor {
             fail(refused);
           }});
      continue;
    }
    if (md) {
      path = path == "VIDEO_SPARSE_ATTN"   ? "VSA@0 (every tile)"
             : path == "SLA_ATTN"          ? "SLA@1.0 no proj_l"
             : path == "SAGE_SLA_ATTN"     ? "SageSLA@1.0 no proj_l"
             : path == "SLIDING_TILE_ATTN" ? "STA (default 3x3x3 window)"
                                           : path + " (every block)";
      rows.push_back({path, [b, md](const Tensor& q, const Tensor& k, const Tensor& v,
                                    float scale) { return b->run(q, k, v, scale, md.get()); }});
      continue;
    }
    if (path == "TORCH_SDPA")
      path += ops::cuda::attention_uses_cudnn(q, k, v, scale) ? "/cudnn" : "/gemm_softmax";
    const bool hopper =
        path == "FLASH_ATTN" &&
        ops::cuda::flash_attention_supported(q, k, v, ops::cuda::FlashAttentionKernel::Hopper);
    if (path == "FLASH_ATTN") path += hopper ? "/hopper" : "/portable";
    rows.push_back({path, [b](const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
                      return b->run(q, k, v, scale);
                    }});
    if (hopper) {
      rows.push_back({"FLASH_ATTN/portable",
                      [](const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
                        return ops::cuda::flash_attention(
                            q, k, v, scale, nullptr, ops::cuda::FlashAttentionKernel::Portable);
                      }});
    }
    if (path == "SAGE_ATTN" &&
        ops::cuda::flash_attention_supported(q, k, v, ops::cuda::FlashAttentionKernel::Hopper)) {
      for (const auto& [kernel, label] : kSagePortableRows) {
        rows.push_back(
            {label, [kernel](const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
               return ops::cuda::sage_attention_with(kernel, q, k, v, scale);
             }});
      }
    }
  }
  return rows;
}

// A JSON number, or null where the value is not finite (JSON has no NaN).
nlohmann::ordered_json number(double x) {
  return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr);
}

}  // namespace

nlohmann::ordered_json run_attention_accuracy(int device_index,
                                              const std::vector<const AttentionBackend*>& wanted) {
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  const Device device = Device::cuda(device_index);
  const AttentionDevice attention_device = attention_device_for(device);
  const auto t_record = Clock::now();
  const Recording recording = record_self_attention_inputs(device_index);
  const std::vector<AccuracyCase> cases = accuracy_cases(recording);
  std::printf("recorded in %.1f s\n", seconds_since(t_record));

  const Shape& shape = cases.front().in.q.shape();  // [1, S, H, D]
  const int64_t S = shape[1], H = shape[2], D = shape[3];
  const std::vector<int64_t> rows = evenly_spaced_rows(S, kReferenceRows);

  nlohmann::ordered_json out;
  out["inputs"] = {{"model", "Wan2.1 1.3B transformer, random weights (bench dit's)"},
                   {"video", {kHeight, kWidth, kFrames}},
                   {"timestep", kTimestep},
                   {"what", "self-attention q/k/v as the backend got them (BF16)"}};
  out["shape"] = shape;
  out["reference"] =
      "softmax(q k^T scale) v in double on the CPU from the BF16 inputs, every head "
      "and key, for the sampled query rows";
  out["reference_rows"] = int64_t(rows.size());
  out["row_sample"] = "row i = floor((2i+1) S / (2 rows))";
  out["k_outlier"] = "k[:, :, h, " + std::to_string(kKeyOutlierChannel) +
                     "] += " + std::to_string(int(kKeyOutlierStds)) +
                     " std(k) for every token and head h (std over all of k), rounded to BF16";
  out["bar"] = {
      {"min_cosine", kAccuracyMinCosine}, {"max_rel_l2", kAccuracyMaxRelL2}, {"non_finite", 0}};

  std::printf(
      "\nattention accuracy: against softmax(q k^T scale) v in double on the CPU, for %zu "
      "query rows spread evenly over %lld (row i = floor((2i+1) S/(2 %zu))), every head "
      "and every key; q/k/v [1, %lld, %lld, %lld] BF16 from the recorded forward\n",
      rows.size(), static_cast<long long>(S), rows.size(), static_cast<long long>(S),
      static_cast<long long>(H), static_cast<long long>(D));
  std::printf(
      "K outlier: k[.., channel %lld of every head] += %g std(k), every token; x20: q, k, v "
      "x 20 (NaN/Inf only). bar: cosine >= %g, rel-L2 <= %g, no NaN/Inf\n\n",
      static_cast<long long>(kKeyOutlierChannel), kKeyOutlierStds, kAccuracyMinCosine,
      kAccuracyMaxRelL2);
  std::printf("%-22s %9s %9s %9s %9s\n", "case", "std q", "std k", "std v", "max|k|");
  for (const AccuracyCase& c : cases) {
    const double sq = standard_deviation(c.in.q), sk = standard_deviation(c.in.k),
                 sv = standard_deviation(c.in.v), mk = max_abs(c.in.k);
    std::printf("%-22s %9.4f %9.4f %9.4f %9.3f\n", c.label.c_str(), sq, sk, sv, mk);
    out["cases"].push_back({{"case", c.label},
                            {"layer", c.layer},
                            {"reference", c.reference},
                            {"scale", c.in.scale},
                            {"q_std", sq},
                            {"k_std", sk},
                            {"v_std", sv},
                            {"k_max_abs", mk}});
  }
  std::printf("\n%-22s %-20s %10s %10s %10s %9s %9s  %s\n", "case", "backend/kernel", "cosine",
              "rel-L2", "worst head", "NaN", "Inf", "bar");

  std::vector<AccuracyRow> backends;
  for (const AccuracyCase& c : cases) {
    const Tensor q = c.in.q.to(DType::BF16).to(device);
    const Tensor k = c.in.k.to(DType::BF16).to(device);
    const Tensor v = c.in.v.to(DType::BF16).to(device);
    if (backends.empty())
      backends = accuracy_rows(wanted, attention_device, q, k, v, c.in.scale, recording.grid);
    std::vector<double> reference;
    if (c.reference) {
      const auto t_ref = Clock::now();
      reference = reference_attention_rows(c.in.q, c.in.k, c.in.v, c.in.scale, rows);
      std::printf("%-22s reference: %.1f s on %d threads\n", c.label.c_str(), seconds_since(t_ref),
                  num_threads());
    }
    for (const AccuracyRow& row : backends) {
      nlohmann::ordered_json result = {{"case", c.label}, {"path", row.path}};
      try {
        const Tensor got = widened_host_copy(row.run(q, k, v, c.in.scale));
        FV_CHECK(got.shape() == q.shape(), row.path, " returned ", got.describe(), " for q ",
                 q.describe());
        const NonFiniteCount bad = count_non_finite(got);
        AccuracyMetrics m;
        if (c.reference) m = compare_rows(gather_rows(got, rows), reference, H, D);
        const bool ok = c.reference ? meets_accuracy_bar(m, bad) : bad.total() == 0;
        if (c.reference) {
          std::printf("%-22s %-20s %10.6f %10.2e %10.2e %9lld %9lld  %s\n", c.label.c_str(),
                      row.path.c_str(), m.cosine, m.rel_l2, m.worst_head_rel_l2,
                      static_cast<long long>(bad.nan), static_cast<long long>(bad.inf),
                      ok ? "ok" : "FAIL");
        } else {
          std::printf("%-22s %-20s %10s %10s %10s %9lld %9lld  %s\n", c.label.c_str(),
                      row.path.c_str(), "-", "-", "-", static_cast<long long>(bad.nan),
                      static_cast<long long>(bad.inf), ok ? "ok" : "FAIL");
        }
        const double none = std::numeric_limits<double>::quiet_NaN();  // written as null
        result["cosine"] = number(c.reference ? m.cosine : none);
        result["rel_l2"] = number(c.reference ? m.rel_l2 : none);
        result["worst_head_rel_l2"] = number(c.reference ? m.worst_head_rel_l2 : none);
        result["nan"] = bad.nan;
        result["inf"] = bad.inf;
        result["meets_bar"] = ok;
      } catch (const Error& e) {
        // A backend that refuses these inputs is a row of the table, not the end of it.
        std::printf("%-22s %-20s error: %s\n", c.label.c_str(), row.path.c_str(), e.what());
        result["error"] = e.what();
        result["meets_bar"] = false;
      }
      out["results"].push_back(std::move(result));
    }
  }
  return out;
}

}  // namespace fastvideo::bench

#endif
