// ops::cuda::conv3d / conv3d_ndhwc on the tensors as they are: channels-first (NCDHW), or
// channels-last (NDHWC with an NHWC filter, the layout the VAE decoder runs in). A channels-last
// BF16 problem our Hopper implicit GEMM takes (conv_kernels.h: hopper_conv_applies) runs on it;
// every other one through cuDNN's convolution forward. BF16 runs with fp32 accumulation on Tensor
// Cores, F32 with full fp32 FMA math (no TF32).
//
// Every distinct problem (device, dtype, shapes, padding) gets a plan: its descriptors and the
// algorithm chosen for it, kept for the process. The choice follows cuDNN's heuristics, trying
// their candidates in order until one runs (no host synchronisation); with
// FASTVIDEO_CUDNN_BENCHMARK=1 it is measured once per plan instead (cudnnFindConvolutionForward-
// AlgorithmEx, which synchronises), like torch.backends.cudnn.benchmark. A problem no cuDNN
// algorithm accepts runs our direct kernel (conv_kernels.h), slow but exact.
//
// cuDNN pads symmetrically, so causal time padding (more frames in front than behind) is made
// explicit: the unequal part becomes zero frames in a padded copy of the input. The decoder needs
// that only where a stream starts (its first chunk), on one-frame inputs.
#include "ops/conv.h"

#include <cudnn.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/env.h"
#include "fastvideo/log.h"
#include "ops/channels_last.h"
#include "ops/cuda/conv_kernels.h"

namespace fastvideo::ops::cuda {

namespace {

// Algorithms needing more scratch than this are passed over (PyTorch caps by free memory; a
// fixed cap keeps the decoder's peak predictable).
constexpr size_t kMaxWorkspace = size_t(1) << 30;

struct PlanKey {
  int device;
  DType dtype;
  Shape x, w;                // as stored: channels-first, or channels-last (conv3d_ndhwc)
  std::vector<int64_t> pad;  // symmetric, per spatial dim
  bool channels_last = false;
  auto operator<=>(const PlanKey&) const = default;
};

enum class PlanState { Unchosen, Chosen, NoAlgorithm };

// Descriptors of one problem plus the algorithm chosen for it.
struct ConvPlan {
  cudnnTensorDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnFilterDescriptor_t w_desc = nullptr;
  cudnnConvolutionDescriptor_t conv_desc = nullptr;
  PlanState state = PlanState::Unchosen;
  cudnnConvolutionFwdAlgo_t algo{};  // with its math type set on conv_desc
  size_t workspace_bytes = 0;
  std::mutex mu;

  ConvPlan(const PlanKey& key, const Shape& y_shape);
  ~ConvPlan() {
    cudnnDestroyTensorDescriptor(x_desc);
    cudnnDestroyTensorDescriptor(y_desc);
    cudnnDestroyFilterDescriptor(w_desc);
    cudnnDestroyConvolutionDescriptor(conv_desc);
  }
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;
};

std::vector<int> as_int(const Shape& s) { return {s.begin(), s.end()}; }

void set_packed(cudnnTensorDescriptor_t desc, cudnnDataType_t type, const Shape& shape) {
  const std::vector<int> dims = as_int(shape);
  std::vector<int> strides(dims.size(), 1);
  for (int d = int(dims.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * dims[d + 1];
  FV_CUDNN_CHECK(
      cudnnSetTensorNdDescriptor(desc, type, int(dims.size()), dims.data(), strides.data()));
}

// A channels-last tensor as stored, [B, T, H, W, C]: cuDNN's dims are channels-first
// {B, C, T, H, W}, its strides those of the storage.
void set_channels_last(cudnnTensorDescriptor_t desc, cudnnDataType_t type, const Shape& stored) {
  const int B = int(stored[0]), T = int(stored[1]), H = int(stored[2]), W = int(stored[3]),
            C = int(stored[4]);
  const int dims[] = {B, C, T, H, W};
  const int strides[] = {T * H * W * C, 1, H * W * C, W * C, C};
  FV_CUDNN_CHECK(cudnnSetTensorNdDescriptor(desc, type, 5, dims, strides));
}

cudnnDataType_t cudnn_type(DType d) {
  return d == DType::BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

ConvPlan::ConvPlan(const PlanKey& key, const Shape& y_shape) {
  const cudnnDataType_t type = cudnn_type(key.dtype);
  FV_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_desc));
  FV_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_desc));
  FV_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_desc));
  FV_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_desc));
  std::vector<int> w_dims = as_int(key.w);
  if (key.channels_last) {
    set_channels_last(x_desc, type, key.x);
    set_channels_last(y_desc, type, y_shape);
    // Filter dims stay {O, C, kt, kh, kw}; the NHWC format says the storage is [O, kt, kh, kw, C].
    w_dims = {w_dims[0], w_dims[4], w_dims[1], w_dims[2], w_dims[3]};
  } else {
    set_packed(x_desc, type, key.x);
    set_packed(y_desc, type, y_shape);
  }
  FV_CUDNN_CHECK(cudnnSetFilterNdDescriptor(
      w_desc, type, key.channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, int(w_dims.size()),
      w_dims.data()));
  const int spatial = int(key.pad.size());
  const std::vector<int> pad(key.pad.begin(), key.pad.end()), ones(size_t(spatial), 1);
  // BF16 data accumulates in fp32 (cuDNN's PSEUDO_BFLOAT16 configuration).
  FV_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(conv_desc, spatial, pad.data(), ones.data(),
                                                 ones.data(), CUDNN_CROSS_CORRELATION,
                                                 CUDNN_DATA_FLOAT));
  FV_CUDNN_CHECK(cudnnSetConvolutionMathType(
      conv_desc, key.dtype == DType::BF16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  // Our output shape and cuDNN's must agree, or the descriptors above are wrong.
  std::vector<int> out(y_shape.size());
  FV_CUDNN_CHECK(cudnnGetConvolutionNdForwardOutputDim(conv_desc, x_desc, w_desc, int(out.size()),
                                                       out.data()));
  Shape expected = y_shape;  // cuDNN's order: channels second
  if (key.channels_last) expected = {y_shape[0], y_shape[4], y_shape[1], y_shape[2], y_shape[3]};
  FV_CHECK(std::equal(out.begin(), out.end(), expected.begin()), "conv: cuDNN output shape ",
           shape_str(Shape(out.begin(), out.end())), " differs from the expected ",
           shape_str(expected));
}

// F32 stays exact to fp32 rounding: no TF32 or down-conversion, and only the direct/GEMM
// algorithms (FFT and Winograd transforms add error of their own).
bool allowed(DType dtype, const cudnnConvolutionFwdAlgoPerf_t& c) {
  if (dtype == DType::BF16) return true;
  const bool fma = c.mathType == CUDNN_FMA_MATH || c.mathType == CUDNN_DEFAULT_MATH;
  const bool gemm_like = c.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
                         c.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
                         c.algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM ||
                         c.algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
  return fma && gemm_like;
}

struct Operands {
  const Tensor &x, &w, &y;
};

cudnnStatus_t forward(cudnnHandle_t handle, const ConvPlan& plan, cudnnConvolutionFwdAlgo_t algo,
                      size_t bytes, const Operands& op) {
  Tensor workspace;
  if (bytes > 0) workspace = Tensor::empty({int64_t(bytes)}, DType::U8, op.y.device());
  const float alpha = 1.0f, beta = 0.0f;
  return cudnnConvolutionForward(handle, &alpha, plan.x_desc, op.x.raw_data(), plan.w_desc,
                                 op.w.raw_data(), plan.conv_desc, algo,
                                 workspace.defined() ? workspace.raw_data() : nullptr, bytes, &beta,
                                 plan.y_desc, op.y.raw_data());
}

// cuDNN 9 status codes are a category (thousands) plus a detail: any "not supported" or "bad
// parameter", or an engine that failed to compile at run time, means "try another algorithm".
bool declined(cudnnStatus_t status) {
  const int category = CUDNN_STATUS_CATEGORY(int(status));
  return category == CUDNN_STATUS_NOT_SUPPORTED || category == CUDNN_STATUS_BAD_PARAM ||
         status == CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED;
}

// Runs `algo` with `math` (F32 always with FMA math); false when cuDNN declines the
// configuration, an Error for any other failure.
bool try_algorithm(cudnnHandle_t handle, ConvPlan& plan, DType dtype,
                   cudnnConvolutionFwdAlgo_t algo, cudnnMathType_t math, const Operands& op) {
  FV_CUDNN_CHECK(
      cudnnSetConvolutionMathType(plan.conv_desc, dtype == DType::F32 ? CUDNN_FMA_MATH : math));
  size_t bytes = 0;
  if (cudnnGetConvolutionForwardWorkspaceSize(handle, plan.x_desc, plan.w_desc, plan.conv_desc,
                                              plan.y_desc, algo, &bytes) != CUDNN_STATUS_SUCCESS ||
      bytes > kMaxWorkspace) {
    return false;
  }
  const cudnnStatus_t status = forward(handle, plan, algo, bytes, op);
  if (declined(status)) return false;
  FV_CUDNN_CHECK(status);
  plan.algo = algo;
  plan.workspace_bytes = bytes;
  plan.state = PlanState::Chosen;
  return true;
}

using Candidates = std::vector<cudnnConvolutionFwdAlgoPerf_t>;

Candidates heuristic_candidates(cudnnHandle_t handle, const ConvPlan& plan) {
  Candidates perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  int returned = 0;
  const cudnnStatus_t status =
      cudnnGetConvolutionForwardAlgorithm_v7(handle, plan.x_desc, plan.w_desc, plan.conv_desc,
                                             plan.y_desc, int(perf.size()), &returned, perf.data());
  if (declined(status)) return {};
  FV_CUDNN_CHECK(status);
  perf.resize(size_t(returned));
  return perf;
}

// Times every algorithm on these very operands (y is overwritten); fastest first.
Candidates measured_candidates(cudnnHandle_t handle, const ConvPlan& plan, const Operands& op) {
  Candidates perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  int returned = 0;
  Tensor workspace = Tensor::empty({int64_t(kMaxWorkspace)}, DType::U8, op.y.device());
  const cudnnStatus_t status = cudnnFindConvolutionForwardAlgorithmEx(
      handle, plan.x_desc, op.x.raw_data(), plan.w_desc, op.w.raw_data(), plan.conv_desc,
      plan.y_desc, op.y.raw_data(), int(perf.size()), &returned, perf.data(), workspace.raw_data(),
      kMaxWorkspace);
  if (status != CUDNN_STATUS_SUCCESS) return {};
  perf.resize(size_t(returned));
  return perf;
}

bool benchmark_mode() {
  static const bool on = env_int("FASTVIDEO_CUDNN_BENCHMARK", 0, 0, 1) == 1;
  return on;
}

// Picks the plan's algorithm by running candidates until one works; y holds its result.
void choose_and_run(cudnnHandle_t handle, ConvPlan& plan, DType dtype, const Operands& op) {
  Candidates candidates;
  if (benchmark_mode()) candidates = measured_candidates(handle, plan, op);
  if (candidates.empty()) candidates = heuristic_candidates(handle, plan);
  for (const cudnnConvolutionFwdAlgoPerf_t& c : candidates) {
    if (c.status != CUDNN_STATUS_SUCCESS || c.memory > kMaxWorkspace || !allowed(dtype, c))
      continue;
    if (try_algorithm(handle, plan, dtype, c.algo, c.mathType, op)) return;
  }
  plan.state = PlanState::NoAlgorithm;
}

ConvPlan& plan_for(const PlanKey& key, const Shape& y_shape) {
  static std::mutex mu;
  static auto& plans = *new std::map<PlanKey, std::unique_ptr<ConvPlan>>();
  std::lock_guard lock(mu);
  auto& slot = plans[key];
  if (!slot) slot = std::make_unique<ConvPlan>(key, y_shape);
  return *slot;
}

void check_int_range(const Tensor& t, const char* what) {
  FV_CHECK(t.numel() <= INT_MAX, "conv: ", what, " ", t.describe(),
           " has more than 2^31 elements, ",
           "beyond cuDNN's 32-bit tensor descriptors; decode fewer frames or a smaller size");
}

// A contiguous tensor starting where a fresh allocation would (256 bytes): a view that begins
// mid-block is copied, so every call of a plan sees the alignment its algorithm was chosen with.
Tensor aligned_contiguous(const Tensor& t) {
  Tensor c = t.contiguous();
  return reinterpret_cast<uintptr_t>(c.raw_data()) % 256 == 0 ? c : c.clone();
}

// x, w aligned and contiguous, of one dtype; pads symmetric per spatial dim (t, h, w).
// y = conv(x, w) + bias.
// Channels-last: x [B, T, H, W, C], w [O, kt, kh, kw, C] -> y [B, T', H', W', O].
Tensor convolve(const Tensor& x, const Tensor& w, const Tensor& bias,
                const std::vector<int64_t>& pad, bool channels_last = false) {
  const int spatial = int(pad.size());
  Shape y_shape{x.size(0)};
  if (!channels_last) y_shape.push_back(w.size(0));
  const int first = channels_last ? 1 : 2;  // the first spatial dim of x and w
  for (int d = 0; d < spatial; ++d)
    y_shape.push_back(x.size(first + d) + 2 * pad[size_t(d)] - w.size(first + d) + 1);
  if (channels_last) y_shape.push_back(w.size(0));
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  check_int_range(x, "input");
  check_int_range(y, "output");

  const int device = x.device().index;
  CudaContext& ctx = use_cuda_device(device);
  if (channels_last && conv_detail::hopper_conv_applies(x, w, pad)) {
    conv_detail::hopper_conv3d_ndhwc(x, w, bias, y);  // its bias in the epilogue
    return y;
  }
  const PlanKey key{device, x.dtype(), x.shape(), w.shape(), pad, channels_last};
  ConvPlan& plan = plan_for(key, y_shape);
  const Operands op{x, w, y};
  {
    std::lock_guard lock(plan.mu);
    if (plan.state == PlanState::Unchosen) {
      const auto t0 = std::chrono::steady_clock::now();
      choose_and_run(ctx.cudnn(), plan, x.dtype(), op);
      // A first call's host time (heuristics, cuDNN loading or compiling its kernel) is what
      // makes a fresh decode slower than the next; the debug log shows it per plan.
      log::debug(
          "conv: plan for input ", x.describe(), ", weight ", w.describe(), ": ",
          plan.state == PlanState::Chosen ? str_cat("cuDNN algorithm ", int(plan.algo))
                                          : std::string("no cuDNN algorithm"),
          ", workspace ", plan.workspace_bytes >> 20, " MiB, chosen in ",
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
          " ms (host)");
      if (plan.state == PlanState::NoAlgorithm)
        log::warning("conv: cuDNN has no algorithm for ", channels_last ? "channels-last " : "",
                     "input ", x.describe(), ", weight ", w.describe(),
                     channels_last ? "; converting to channels-first for it"
                                   : "; using the slow direct kernel");
    } else if (plan.state == PlanState::Chosen) {
      FV_CUDNN_CHECK(forward(ctx.cudnn(), plan, plan.algo, plan.workspace_bytes, op));
    }
  }
  if (plan.state == PlanState::NoAlgorithm && channels_last) {
    // The direct kernel reads channels-first: through it and back.
    const Tensor ncdhw = convolve(x.permute({0, 4, 1, 2, 3}).contiguous(),
                                  w.permute({0, 4, 1, 2, 3}).contiguous(), bias, pad);
    return ncdhw.permute({0, 2, 3, 4, 1}).contiguous();
  }
  if (plan.state == PlanState::NoAlgorithm) {
    const std::array<int64_t, 6> pads{pad[0], pad[0], pad[1], pad[1], pad[2], pad[2]};
    return conv_detail::conv3d_direct(x, w, bias, pads);
  }
  if (bias.defined()) {
    Tensor b = bias;
    if (b.dtype() != DType::F32 && b.dtype() != DType::BF16) b = b.to(DType::F32);
    if (channels_last) {
      conv_detail::add_last_dim_bias(y, b.contiguous());
    } else {
      conv_detail::add_channel_bias(y, b.contiguous());
    }
  }
  return y;
}

// The activation dtype decides; weights of another float dtype are converted to it.
void check_operands(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                    bool channels_last) {
  FV_CHECK(x.dtype() == DType::BF16 || x.dtype() == DType::F32, op,
           ": CUDA convolutions take BF16 or F32 input, got ", x.describe());
  const int c = channels_last ? 4 : 1;  // the channel dim of x and w
  FV_CHECK(w.ndim() == 5 && w.size(c) == x.size(c), op, ": weight ", w.describe(),
           channels_last ? " is not [O,kt,kh,kw,C] for input " : " does not match input ",
           x.describe());
  FV_CHECK(w.device() == x.device(), op, ": weight ", w.describe(),
           " is not on the input's device ", x.device().name());
  if (bias.defined()) {
    check_shape(bias, std::array<int64_t, 1>{w.size(0)}, str_cat(op, " bias"));
    FV_CHECK(bias.device() == x.device(), op, ": bias ", bias.describe(),
             " is not on the input's device ", x.device().name());
  }
}

Tensor weight_as(const Tensor& w, DType dtype) { return aligned_contiguous(w.to(dtype)); }

// conv3d and conv3d_ndhwc after their operand checks: the padding checked, the symmetric part of
// the time padding given to cuDNN and the rest made explicit zero frames (the decoder's causal
// convs pad only in front, on a stream's first chunk).
Tensor convolve_3d(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                   const Conv3dPadding& padding, bool channels_last) {
  FV_CHECK(padding.time_front >= 0 && padding.time_back >= 0 && padding.height >= 0 &&
               padding.width >= 0,
           op, ": negative padding");
  const int t = channels_last ? 1 : 2;  // the time dim of x and weight; H and W follow it
  const int64_t To = x.size(t) + padding.time_front + padding.time_back - weight.size(t) + 1;
  const int64_t Ho = x.size(t + 1) + 2 * padding.height - weight.size(t + 1) + 1;
  const int64_t Wo = x.size(t + 2) + 2 * padding.width - weight.size(t + 2) + 1;
  FV_CHECK(To > 0 && Ho > 0 && Wo > 0, op, ": kernel ", shape_str(weight.shape()),
           " does not fit input ", x.describe(), " with padding (t ", padding.time_front, "+",
           padding.time_back, ", h ", padding.height, ", w ", padding.width, ")");
  Tensor xc = aligned_contiguous(x);
  const int64_t both = std::min(padding.time_front, padding.time_back);
  const int64_t front = padding.time_front - both, back = padding.time_back - both;
  if (front > 0 || back > 0) {
    Shape shape = x.shape();
    shape[size_t(t)] += front + back;
    Tensor padded = Tensor::zeros(shape, x.dtype(), x.device());
    padded.slice(t, front, front + x.size(t)).copy_from(xc);
    xc = padded;
  }
  return convolve(xc, weight_as(weight, x.dtype()), bias, {both, padding.height, padding.width},
                  channels_last);
}

}  // namespace

Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding) {
  FV_CHECK(x.ndim() == 5, "conv3d: expected input [B,C,T,H,W], got ", x.describe());
  check_operands("conv3d", x, weight, bias, /*channels_last=*/false);
  return convolve_3d("conv3d", x, weight, bias, padding, /*channels_last=*/false);
}

Tensor conv3d_ndhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Conv3dPadding& padding) {
  FV_CHECK(x.ndim() == 5, "conv3d_ndhwc: expected input [B,T,H,W,C], got ", x.describe());
  check_operands("conv3d_ndhwc", x, weight, bias, /*channels_last=*/true);
  return convolve_3d("conv3d_ndhwc", x, weight, bias, padding, /*channels_last=*/true);
}

}  // namespace fastvideo::ops::cuda
