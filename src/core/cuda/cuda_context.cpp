#include "core/cuda/cuda_context.h"

#include <memory>
#include <mutex>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_allocator.h"

namespace fastvideo {

void check_compute_capability(const CudaDeviceInfo& info, int device) {
  if (info.major < 8) {
    fail("GPU ", device, " (", info.name, ") has compute capability ", info.major, ".", info.minor,
         " (sm_", info.major, info.minor, "); fastvideo needs sm_80 or newer (A100, L40S, H100, ",
         "H200, B200)");
  }
}

CudaContext::CudaContext(int device) : device_(device) {
  FV_CUDA_CHECK(cudaSetDevice(device));
  cudaDeviceProp prop{};
  FV_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  info_.name = prop.name;
  info_.major = prop.major;
  info_.minor = prop.minor;
  info_.sm_count = prop.multiProcessorCount;
  info_.total_memory = prop.totalGlobalMem;
  info_.l2_bytes = size_t(prop.l2CacheSize);
  info_.shared_memory_per_block_optin = prop.sharedMemPerBlockOptin;
  info_.shared_memory_per_sm = prop.sharedMemPerMultiprocessor;
  check_compute_capability(info_, device);
  FV_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

CudaContext& CudaContext::get(int device) {
  // Never destroyed: releasing handles after the driver shut down at exit fails.
  static std::mutex mu;
  static auto& contexts = *new std::vector<std::unique_ptr<CudaContext>>();
  std::lock_guard lock(mu);
  if (contexts.empty()) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) {
      fail("no CUDA GPU is available (",
           status == cudaSuccess ? "no devices" : cudaGetErrorString(status),
           "); commands with a --device flag run on the CPU with --device cpu");
    }
    contexts.resize(size_t(count));
  }
  FV_CHECK(device >= 0 && device < int(contexts.size()), "CUDA device ", device,
           " does not exist (this machine has ", contexts.size(), ")");
  auto& slot = contexts[size_t(device)];
  if (!slot) slot.reset(new CudaContext(device));
  return *slot;
}

cublasLtHandle_t CudaContext::cublaslt() {
  if (!cublaslt_) FV_CUBLAS_CHECK(cublasLtCreate(&cublaslt_));
  return cublaslt_;
}

cudnnHandle_t CudaContext::cudnn() {
  if (!cudnn_) {
    FV_CUDNN_CHECK(cudnnCreate(&cudnn_));
    FV_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

void* CudaContext::gemm_workspace(size_t* bytes) {
  if (!workspace_) {
    // From the allocator, so that max_device_memory counts it; never from a CUDA graph's pool
    // (a first GEMM inside a capture would tie the graph's memory to the process).
    workspace_bytes_ = size_t(32) << 20;
    const RouteToPool shared_memory(nullptr);
    workspace_ = DeviceAllocator::get(device_).allocate(workspace_bytes_);
  }
  *bytes = workspace_bytes_;
  return workspace_.get();
}

void CudaContext::synchronize() { FV_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

CudaContext& use_cuda_device(int device) {
  CudaContext& ctx = CudaContext::get(device);
  FV_CUDA_CHECK(cudaSetDevice(device));
  return ctx;
}

}  // namespace fastvideo
