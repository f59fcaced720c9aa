// TMA maps (cuTensorMapEncodeTiled) for the Hopper kernels: the driver entry point, looked up once,
// and one encode-and-check that every map goes through, so a failure names the op and the tensor.
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include "core/cuda/cuda_check.h"
#include "core/tensor.h"

namespace fastvideo::ops::cuda {

inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult status{};
    FV_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000,
                                                   cudaEnableDefault, &status));
    FV_CHECK(status == cudaDriverEntryPointSuccess && f != nullptr,
             "the CUDA driver has no cuTensorMapEncodeTiled (need >= 12.0)");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

// A map over t's memory: `rank` dims innermost first, strides in bytes for dims 1.., a box per
// load, unit element strides, no interleave, L2 promotion of 256 bytes, out-of-bounds reads zero.
// A refusal is an error naming `op` and t.
inline CUtensorMap encode_tensor_map(const char* op, const Tensor& t, CUtensorMapDataType type,
                                     int rank, const cuuint64_t* dims, const cuuint64_t* strides,
                                     const cuuint32_t* box, CUtensorMapSwizzle swizzle) {
  const cuuint32_t element_strides[5] = {1, 1, 1, 1, 1};
  FV_CHECK(rank >= 1 && rank <= 5, op, ": a TMA map of rank ", rank, " (1 to 5)");
  CUtensorMap map;
  const CUresult r =
      tensor_map_encoder()(&map, type, cuuint32_t(rank), t.raw_data(), dims, strides, box,
                           element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                           CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  FV_CHECK(r == CUDA_SUCCESS, op, ": cuTensorMapEncodeTiled failed (CUresult ", int(r), ") for ",
           t.describe());
  return map;
}

}  // namespace fastvideo::ops::cuda
