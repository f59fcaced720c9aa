#include "attention/attention_backend.h"

#include <algorithm>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

template <class T, class F>
std::string joined(const std::vector<T>& items, F&& to_string) {
  std::string out;
  for (const T& item : items) {
    if (!out.empty()) out += ",";
    out += to_string(item);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

bool AttentionCapabilities::supports_dtype(DType dtype, const AttentionDevice& device) const {
  const auto listed = [dtype](const std::vector<DType>& l) {
    return std::find(l.begin(), l.end(), dtype) != l.end();
  };
  return listed(dtypes) && (!device.is_gpu() || gpu_dtypes.empty() || listed(gpu_dtypes));
}

bool AttentionCapabilities::supports_head_dim(int64_t head_dim,
                                              const AttentionDevice& device) const {
  const auto listed = [head_dim](const std::vector<int64_t>& l) {
    return l.empty() || std::find(l.begin(), l.end(), head_dim) != l.end();
  };
  return listed(head_dims) && (!device.is_gpu() || listed(gpu_head_dims));
}

std::string AttentionCapabilities::describe() const {
  std::string where;
  if (cpu) where = "cpu";
  if (gpu) {
    if (!where.empty()) where += "+";
    where += min_compute == max_compute
                 ? min_compute.sm()
                 : min_compute.sm() +
                       (max_compute < ComputeCapability{99, 9} ? "-" + max_compute.sm() : "+");
  }
  std::string layers = self_attention && cross_attention ? "self+cross"
                       : self_attention                  ? "self"
                                                         : "cross";
  std::string out = str_cat(
      where, "; ", joined(dtypes, [](DType d) { return lower(dtype_name(d)); }), "; head_dim ",
      head_dims.empty() ? std::string("any")
                        : joined(head_dims, [](int64_t d) { return std::to_string(d); }),
      "; ", layers);
  if (!gpu_dtypes.empty() || !gpu_head_dims.empty()) {
    out += "; on GPUs " +
           (gpu_dtypes.empty() ? std::string()
                               : joined(gpu_dtypes, [](DType d) { return lower(dtype_name(d)); }) +
                                     (gpu_head_dims.empty() ? "" : ", ")) +
           (gpu_head_dims.empty()
                ? std::string()
                : "head_dim " + joined(gpu_head_dims, [](int64_t d) { return std::to_string(d); }));
  }
  if (!extra_weights.empty())
    out += "; needs " + joined(extra_weights, [](const std::string& s) { return s; });
  return out;
}

std::string_view AttentionBackendStatus::kind_name() const {
  switch (kind) {
    case Kind::Available:
      return "available";
    case Kind::NotInThisVersion:
      return "not in this version";
    case Kind::UnsupportedHardware:
      return "unsupported hardware";
  }
  return "?";
}

std::unique_ptr<AttentionMetadata> AttentionBackend::build_metadata(
    const AttentionStepInfo&) const {
  return nullptr;
}

bool AttentionBackend::takes(std::string_view weight) const {
  const auto& extra = capabilities().extra_weights;
  return std::find(extra.begin(), extra.end(), weight) != extra.end();
}

Tensor AttentionBackend::run(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                             const AttentionMetadata* metadata,
                             const AttentionExtras& extras) const {
  FV_CHECK(q.ndim() == 4 && k.ndim() == 4 && v.ndim() == 4, name(),
           ": q, k, v must be [B, S, H, D], got ", q.describe(), ", ", k.describe(), ", ",
           v.describe());
  FV_CHECK(!extras.gate.defined() || takes_gate(), "attention backend ", name(),
           " takes no gate, but one was given (", extras.gate.describe(), ")");
  FV_CHECK(!extras.proj_l_weight.defined() || takes("proj_l"), "attention backend ", name(),
           " takes no proj_l, but one was given (", extras.proj_l_weight.describe(), ")");
  return forward(q, k, v, scale, metadata, extras);
}

AttentionBackendStatus hardware_status(std::string_view backend,
                                       const AttentionCapabilities& capabilities,
                                       const AttentionDevice& device) {
  using Kind = AttentionBackendStatus::Kind;
  if (!device.is_gpu()) {
    if (capabilities.cpu) return {Kind::Available, "runs on the CPU"};
    return {Kind::UnsupportedHardware,
            str_cat(backend, " needs ", capabilities.gpu_requirement, ", not the CPU")};
  }
  const ComputeCapability cc = device.capability;
  if (!capabilities.gpu || cc < capabilities.min_compute || capabilities.max_compute < cc) {
    return {Kind::UnsupportedHardware,
            str_cat(backend, " needs ", capabilities.gpu_requirement, "; ", device.name, " (",
                    device.device.name(), ") has compute capability ", cc.major, ".", cc.minor,
                    " (", cc.sm(), ")")};
  }
  return {Kind::Available, str_cat("runs on ", device.describe())};
}

AttentionBackendStatus kernel_hardware_status(std::string_view backend,
                                              const AttentionCapabilities& capabilities,
                                              const AttentionDevice& device) {
#ifndef FASTVIDEO_HAVE_CUDA
  if (device.is_gpu()) {
    return {AttentionBackendStatus::Kind::NotInThisVersion,
            str_cat("this build has no CUDA backend, so no ", backend, " kernels")};
  }
#endif
  return hardware_status(backend, capabilities, device);
}

const AttentionCapabilities& tile_list_capabilities() {
  static const AttentionCapabilities caps{
      .cpu = true,
      .gpu = true,
      .min_compute = {8, 0},
      .gpu_requirement = "an NVIDIA GPU of compute capability 8.0 or newer (A100, L40S, H100, ...)",
      .dtypes = {DType::BF16, DType::F32},
      .head_dims = {128},
      .gpu_dtypes = {},
      .gpu_head_dims = {},
      .self_attention = true,
      .cross_attention = false,
      .extra_weights = {},
  };
  return caps;
}

AttentionBackendStatus tile_list_status(std::string_view backend, const AttentionDevice& device) {
  AttentionBackendStatus s = kernel_hardware_status(backend, tile_list_capabilities(), device);
  if (s.available()) {
    s.reason += device.is_gpu() ? " with the portable block-sparse kernel over the tiles' "
                                  "64-token blocks (mma.sync)"
                                : " (f32)";
    s.reason += "; used when asked for, never automatically (it changes the result)";
  }
  return s;
}

}  // namespace fastvideo
