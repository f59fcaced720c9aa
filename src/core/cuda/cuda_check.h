// Every CUDA runtime, cuBLAS(Lt) and cuDNN call is checked; a failure is a fastvideo::Error that
// names the call, the library's message and where it happened (DESIGN §2).
#pragma once

#include <cuda_runtime.h>

#include "fastvideo/error.h"

namespace fastvideo::cuda_detail {

[[noreturn]] void fail_cuda(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void fail_cublas(int status, const char* call, const char* file, int line);
[[noreturn]] void fail_cudnn(int status, const char* message, const char* call, const char* file,
                             int line);

}  // namespace fastvideo::cuda_detail

#define FV_CUDA_CHECK(call)                                                       \
  do {                                                                            \
    cudaError_t fv_status_ = (call);                                              \
    if (fv_status_ != cudaSuccess)                                                \
      ::fastvideo::cuda_detail::fail_cuda(fv_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, not at the next sync.
#define FV_CUDA_CHECK_LAUNCH() FV_CUDA_CHECK(cudaGetLastError())

#define FV_CUBLAS_CHECK(call)                                                       \
  do {                                                                              \
    int fv_status_ = int(call);                                                     \
    if (fv_status_ != 0)                                                            \
      ::fastvideo::cuda_detail::fail_cublas(fv_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define FV_CUDNN_CHECK(call)                                                                 \
  do {                                                                                       \
    auto fv_status_ = (call);                                                                \
    if (int(fv_status_) != 0)                                                                \
      ::fastvideo::cuda_detail::fail_cudnn(int(fv_status_), cudnnGetErrorString(fv_status_), \
                                           #call, __FILE__, __LINE__);                       \
  } while (0)
