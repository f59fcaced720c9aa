// FV_DISPATCH(device, call): runs cpu::call for CPU tensors and cuda::call for CUDA tensors. In a
// build without CUDA a CUDA tensor cannot exist, but the error stays clear if one ever reaches
// here.
#pragma once

#include "core/device.h"
#include "fastvideo/error.h"

namespace fastvideo::ops {

[[noreturn]] inline void fail_without_cuda(const Device& device) {
  fail("a tensor on ", device.name(), " reached an op, but this build has no CUDA backend");
}

}  // namespace fastvideo::ops

#ifdef FASTVIDEO_HAVE_CUDA
#define FV_DISPATCH(device, call) ((device).is_cpu() ? cpu::call : cuda::call)
#else
#define FV_DISPATCH(device, call) \
  ((device).is_cpu() ? cpu::call : (::fastvideo::ops::fail_without_cuda(device), cpu::call))
#endif

