// Per-device CUDA state: the compute stream every op runs on, library handles bound to it, the
// device's properties, and the checks that give a clear error when there is no usable GPU.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <memory>
#include <string>

namespace fastvideo {

struct CudaDeviceInfo {
  std::string name;
  int major = 0, minor = 0;
  int sm_count = 0;
  size_t total_memory = 0;
  size_t l2_bytes = 0;
  size_t shared_memory_per_block_optin = 0;
  size_t shared_memory_per_sm = 0;
};

// Throws naming the GPU, its compute capability and the minimum, sm_80, when `info` is older (the
// backend stores bf16 and runs it on tensor cores, DESIGN §2). Pure: tests feed it an old card.
void check_compute_capability(const CudaDeviceInfo& info, int device);

class CudaContext {
 public:
  // Errors: no CUDA device, device index out of range, compute capability below 8.0.
  static CudaContext& get(int device = 0);

  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t cublaslt();
  cudnnHandle_t cudnn();
  const CudaDeviceInfo& info() const { return info_; }
  // cuBLASLt workspace, kept for the process (32 MiB, what cuBLAS recommends on Hopper).
  void* gemm_workspace(size_t* bytes);
  void synchronize();

  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

 private:
  explicit CudaContext(int device);
  int device_;
  CudaDeviceInfo info_;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t cublaslt_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  std::shared_ptr<void> workspace_;
  size_t workspace_bytes_ = 0;
};

// Makes `device` current for this thread and returns its context.
CudaContext& use_cuda_device(int device);

}  // namespace fastvideo
