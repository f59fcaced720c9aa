// cuDNN's fused flash-attention forward through cudnn-frontend's graph API (vendored,
// third_party/cudnn_frontend): one SDPA node, BF16/F16 in and out, fp32 softmax. This is what
// PyTorch's SDPA runs with the cuDNN backend, so it is FastVideo's TORCH_SDPA backend here.
// A graph and its execution plan are built once per shape and reused.
#include <cudnn_frontend.h>

#include <array>
#include <bit>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/cuda/cuda_context.h"
#include "fastvideo/log.h"
#include "ops/cuda/attention_backend.h"

namespace fastvideo::ops::cuda {

namespace {

namespace fe = cudnn_frontend;

// Variant-pack ids of the graph's user tensors.
constexpr int64_t kQ = 1, kK = 2, kV = 3, kO = 4, kBias = 5;

// Strides (b, s, h) in elements of a [B, S, H, D] tensor as cuDNN will read it.
using Strides3 = std::array<int64_t, 3>;

bool accepts(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias) {
  if (q.dtype() != k.dtype() || q.dtype() != v.dtype()) return false;
  // A bias (UMT5's position bias [H, Sq, Sk]) in q's dtype, contiguous and aligned; others take
  // the GEMM path.
  if (bias.defined() &&
      (bias.dtype() != q.dtype() || !bias.is_contiguous() ||
       reinterpret_cast<uintptr_t>(bias.raw_data()) % 16 != 0 || bias.size(2) % 8 != 0)) {
    return false;
  }
  if (q.dtype() != DType::BF16 && q.dtype() != DType::F16) return false;
  if (!(q.device() == k.device() && q.device() == v.device())) return false;
  const int64_t D = q.size(3), Dv = v.size(3);
  // cuDNN's fused kernels take head dims that are multiples of 8 up to 128 everywhere and up to
  // 256 on Hopper; larger ones (the VAE's 384) are out. check_support has the last word.
  return D % 8 == 0 && Dv % 8 == 0 && D <= 256 && Dv <= 256 && q.size(1) > 0 && k.size(1) > 0;
}

// cuDNN needs a unit stride on D and 16-byte aligned pointers and strides.
bool layout_ok(const Tensor& t) {
  const int64_t e = int64_t(dtype_size(t.dtype()));
  if (t.strides()[3] != 1 && t.size(3) != 1) return false;
  for (int d = 0; d < 3; ++d) {
    if ((t.strides()[size_t(d)] * e) % 16 != 0) return false;
  }
  return reinterpret_cast<uintptr_t>(t.raw_data()) % 16 == 0;
}

Strides3 cudnn_strides(const Tensor& t) {
  if (layout_ok(t)) return {t.strides()[0], t.strides()[1], t.strides()[2]};
  const int64_t S = t.size(1), H = t.size(2), D = t.size(3);
  return {S * H * D, H * D, D};
}

Tensor with_cudnn_layout(const Tensor& t) {
  if (layout_ok(t)) return t;
  Tensor c = t.contiguous();
  return layout_ok(c) ? c : t.clone();
}

struct SdpaKey {
  int device;
  DType dtype;
  int64_t B, H, Sq, Sk, D, Dv;
  uint32_t scale_bits;
  bool bias;  // [1, H, Sq, Sk], contiguous
  Strides3 q, k, v;
  auto operator<=>(const SdpaKey&) const = default;
};

SdpaKey make_key(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias) {
  return {q.device().index, q.dtype(),        q.size(0),
          q.size(2),        q.size(1),        k.size(1),
          q.size(3),        v.size(3),        std::bit_cast<uint32_t>(scale),
          bias.defined(),   cudnn_strides(q), cudnn_strides(k),
          cudnn_strides(v)};
}

std::string describe(const SdpaKey& k) {
  return str_cat("B=", k.B, " H=", k.H, " Sq=", k.Sq, " Sk=", k.Sk, " D=", k.D, " Dv=", k.Dv, " ",
                 dtype_name(k.dtype), k.bias ? " with a bias" : "");
}

struct SdpaPlan {
  std::shared_ptr<fe::graph::Graph> graph;  // null: cuDNN has no plan for this key
  int64_t workspace_bytes = 0;
};

// Builds the graph for `key`; on failure returns a plan without graph and says why.
SdpaPlan build_plan(cudnnHandle_t handle, const SdpaKey& key, std::string* why) {
  auto graph = std::make_shared<fe::graph::Graph>();
  const auto io = key.dtype == DType::BF16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::HALF;
  graph->set_io_data_type(io)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  // Our [B, S, H, D] memory in cuDNN's (b, h, s, d) dimension order: only the strides move.
  auto input = [&](const char* name, int64_t uid, int64_t S, int64_t D, const Strides3& st) {
    return graph->tensor(fe::graph::Tensor_attributes()
                             .set_name(name)
                             .set_uid(uid)
                             .set_data_type(io)
                             .set_dim({key.B, key.H, S, D})
                             .set_stride({st[0], st[2], st[1], 1}));
  };
  auto q = input("Q", kQ, key.Sq, key.D, key.q);
  auto k = input("K", kK, key.Sk, key.D, key.k);
  auto v = input("V", kV, key.Sk, key.Dv, key.v);
  auto options = fe::graph::SDPA_attributes()
                     .set_name("flash_attention")
                     .set_generate_stats(false)
                     .set_attn_scale(std::bit_cast<float>(key.scale_bits));
  if (key.bias) {
    // Shared over the batch: cuDNN broadcasts a size-1 dimension.
    options.set_bias(
        graph->tensor(fe::graph::Tensor_attributes()
                          .set_name("Bias")
                          .set_uid(kBias)
                          .set_data_type(io)
                          .set_dim({1, key.H, key.Sq, key.Sk})
                          .set_stride({key.H * key.Sq * key.Sk, key.Sq * key.Sk, key.Sk, 1})));
  }
  auto outputs = graph->sdpa(q, k, v, options);
  outputs[0]
      ->set_output(true)
      .set_uid(kO)
      .set_data_type(io)
      .set_dim({key.B, key.H, key.Sq, key.Dv})
      .set_stride({key.Sq * key.H * key.Dv, key.Dv, key.H * key.Dv, 1});

  SdpaPlan plan;
  auto step = [&](const char* what, fe::error_t status) {
    if (status.is_good()) return true;
    *why = str_cat(what, ": ", status.get_message());
    return false;
  };
  try {
    if (!step("validate", graph->validate()) ||
        !step("build_operation_graph", graph->build_operation_graph(handle)) ||
        !step("create_execution_plans",
              graph->create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK})) ||
        !step("check_support", graph->check_support(handle)) ||
        !step("build_plans",
              graph->build_plans(handle, fe::BuildPlanPolicy_t::HEURISTICS_CHOICE)) ||
        !step("get_workspace_size", graph->get_workspace_size(plan.workspace_bytes))) {
      return {};
    }
  } catch (const std::exception& e) {
    *why = e.what();
    return {};
  }
  plan.graph = std::move(graph);
  return plan;
}

// The plan for `key`, built on first use. Failures are cached too, so each is logged once.
const SdpaPlan& find_plan(const SdpaKey& key) {
  static std::mutex mu;
  static auto& plans = *new std::map<SdpaKey, SdpaPlan>();
  std::lock_guard lock(mu);
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  std::string why;
  SdpaPlan plan = build_plan(use_cuda_device(key.device).cudnn(), key, &why);
  if (!plan.graph) {
    log::debug("attention: cuDNN SDPA has no plan for ", describe(key), " (", why,
               "); using the GEMM + softmax path");
  }
  return plans.emplace(key, std::move(plan)).first->second;
}

}  // namespace

bool attention_uses_cudnn(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                          const Tensor& bias) {
  if (q.device().is_cpu() || !accepts(q, k, v, bias)) return false;
  return find_plan(make_key(q, k, v, scale, bias)).graph != nullptr;
}

bool cudnn_sdpa(const Tensor& q, const Tensor& k, const Tensor& v, float scale, const Tensor& bias,
                const Tensor& out) {
  if (!accepts(q, k, v, bias)) return false;
  const Tensor qc = with_cudnn_layout(q), kc = with_cudnn_layout(k), vc = with_cudnn_layout(v);
  const SdpaKey key = make_key(qc, kc, vc, scale, bias);
  const SdpaPlan& plan = find_plan(key);
  if (!plan.graph) return false;
  CudaContext& ctx = use_cuda_device(key.device);
  Tensor workspace;
  if (plan.workspace_bytes > 0) {
    workspace = Tensor::empty({plan.workspace_bytes}, DType::U8, q.device());
  }
  std::unordered_map<int64_t, void*> pack = {
      {kQ, qc.raw_data()}, {kK, kc.raw_data()}, {kV, vc.raw_data()}, {kO, out.raw_data()}};
  if (bias.defined()) pack[kBias] = bias.raw_data();
  fe::error_t status =
      plan.graph->execute(ctx.cudnn(), pack, workspace.defined() ? workspace.raw_data() : nullptr);
  FV_CHECK(status.is_good(), "attention: cuDNN SDPA failed to run for ", describe(key), ": ",
           status.get_message());
  return true;
}

}  // namespace fastvideo::ops::cuda
