#include "core/cuda/cuda_check.h"

#include <filesystem>

namespace fastvideo::cuda_detail {

static std::string where(const char* file, int line) {
  return std::filesystem::path(file).filename().string() + ":" + std::to_string(line);
}

void fail_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaErrorMemoryAllocation) {
    fail("CUDA out of memory in ", call, " (", where(file, line),
         "); reduce the resolution or frame count, or free GPU memory");
  }
  fail("CUDA error ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ") in ", call,
       " at ", where(file, line));
}

void fail_cublas(int status, const char* call, const char* file, int line) {
  fail("cuBLAS error ", status, " in ", call, " at ", where(file, line));
}

void fail_cudnn(int status, const char* message, const char* call, const char* file, int line) {
  fail("cuDNN error ", status, " (", message, ") in ", call, " at ", where(file, line));
}

}  // namespace fastvideo::cuda_detail
