#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_allocator.h"
#include "core/cuda/device_copy.h"

namespace fastvideo::cuda_detail {

namespace {

constexpr int kMaxDims = 8;

struct StridedLayout {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t src_strides[kMaxDims];
  int64_t dst_strides[kMaxDims];
};

__device__ float load_any(const void* p, int64_t i, int dtype) {
  switch (dtype) {
    case 0:
      return static_cast<const float*>(p)[i];
    case 1:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default:
      return __half2float(static_cast<const __half*>(p)[i]);
  }
}

__device__ void store_any(void* p, int64_t i, int dtype, float v) {
  switch (dtype) {
    case 0:
      static_cast<float*>(p)[i] = v;
      break;
    case 1:
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
      break;
    default:
      static_cast<__half*>(p)[i] = __float2half_rn(v);
      break;
  }
}

// Row-major element index -> source and destination offsets through the strides.
__device__ void element_offsets(const StridedLayout& layout, int64_t i, int64_t& src,
                                int64_t& dst) {
  src = 0;
  dst = 0;
  for (int d = layout.ndim - 1; d >= 0; --d) {
    const int64_t idx = i % layout.shape[d];
    i /= layout.shape[d];
    src += idx * layout.src_strides[d];
    dst += idx * layout.dst_strides[d];
  }
}

// One thread per element: index -> (src offset, dst offset) through the strides, convert, store.
__global__ void strided_convert_kernel(const void* src, int src_dtype, void* dst, int dst_dtype,
                                       StridedLayout layout, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t so, d_o;
    element_offsets(layout, i, so, d_o);
    store_any(dst, d_o, dst_dtype, load_any(src, so, src_dtype));
  }
}

// Same-dtype strided copy of elements of any size (bytes), for integer tensors.
__global__ void strided_bytes_kernel(const char* src, char* dst, int element_size,
                                     StridedLayout layout, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t so, d_o;
    element_offsets(layout, i, so, d_o);
    for (int b = 0; b < element_size; ++b) dst[d_o * element_size + b] = src[so * element_size + b];
  }
}

// Same-dtype copies whose innermost elements run contiguously in both tensors (a slice along an
// outer dim, a permute that keeps the last dims, a concat's part): `rows` runs of `vectors`
// 16-byte vectors, each row's offsets (bytes) worked out once, not once per element as above.
struct RowLayout {
  int outer_ndim;
  int64_t shape[kMaxDims];
  int64_t src_strides[kMaxDims];  // bytes
  int64_t dst_strides[kMaxDims];  // bytes
};

__global__ void copy_rows_kernel(const char* src, char* dst, RowLayout layout, int64_t rows,
                                 int64_t vectors) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    int64_t i = row, so = 0, d_o = 0;
    for (int d = layout.outer_ndim - 1; d >= 0; --d) {
      const int64_t idx = i % layout.shape[d];
      i /= layout.shape[d];
      so += idx * layout.src_strides[d];
      d_o += idx * layout.dst_strides[d];
    }
    const uint4* from = reinterpret_cast<const uint4*>(src + so);
    uint4* to = reinterpret_cast<uint4*>(dst + d_o);
    for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < vectors;
         v += int64_t(gridDim.x) * blockDim.x)
      to[v] = from[v];
  }
}

constexpr int64_t kMinRowBytes = 512;  // shorter runs leave most of a row's threads idle

// The row layout of a same-dtype copy of src into dst, if its innermost run is contiguous in
// both, at least kMinRowBytes long and every row 16-byte aligned; otherwise nothing.
bool row_layout(const Tensor& src, const Tensor& dst, RowLayout& layout, int64_t& rows,
                int64_t& vectors) {
  const int64_t element = int64_t(dtype_size(dst.dtype()));
  int d = dst.ndim() - 1;
  int64_t run = 1;  // elements
  for (; d >= 0; --d) {
    const int64_t n = dst.size(d);
    if (n != 1 && (src.strides()[size_t(d)] != run || dst.strides()[size_t(d)] != run)) break;
    run *= n;
  }
  const int64_t run_bytes = run * element;
  if (run_bytes < kMinRowBytes || run_bytes % 16 != 0) return false;
  if (reinterpret_cast<uintptr_t>(src.raw_data()) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(dst.raw_data()) % 16 != 0)
    return false;
  layout = RowLayout{};
  rows = 1;
  for (int k = 0; k <= d; ++k) {
    const int64_t n = dst.size(k);
    if (n == 1) continue;
    const int64_t ss = src.strides()[size_t(k)] * element, ds = dst.strides()[size_t(k)] * element;
    if (ss % 16 != 0 || ds % 16 != 0) return false;
    layout.shape[layout.outer_ndim] = n;
    layout.src_strides[layout.outer_ndim] = ss;
    layout.dst_strides[layout.outer_ndim] = ds;
    ++layout.outer_ndim;
    rows *= n;
  }
  vectors = run_bytes / 16;
  return true;
}

int float_code(DType d) {
  switch (d) {
    case DType::F32:
      return 0;
    case DType::BF16:
      return 1;
    case DType::F16:
      return 2;
    default:
      return -1;
  }
}

// Device-to-device on one GPU.
void copy_on_device(const Tensor& src, const Tensor& dst) {
  CudaContext& ctx = use_cuda_device(dst.device().index);
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    FV_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), dst.nbytes(),
                                  cudaMemcpyDeviceToDevice, ctx.stream()));
    return;
  }
  FV_CHECK(dst.ndim() <= kMaxDims, "device copy of ", dst.describe(), ": at most ", kMaxDims,
           " dimensions");
  RowLayout rows_layout;
  int64_t rows = 0, vectors = 0;
  if (src.dtype() == dst.dtype() && row_layout(src, dst, rows_layout, rows, vectors)) {
    const int threads = 256;
    const dim3 grid(unsigned(std::min<int64_t>((vectors + threads - 1) / threads, 1024)),
                    unsigned(std::min<int64_t>(rows, 65535)));
    copy_rows_kernel<<<grid, threads, 0, ctx.stream()>>>(static_cast<const char*>(src.raw_data()),
                                                         static_cast<char*>(dst.raw_data()),
                                                         rows_layout, rows, vectors);
    FV_CUDA_CHECK_LAUNCH();
    return;
  }
  StridedLayout layout{};
  layout.ndim = dst.ndim();
  for (int d = 0; d < dst.ndim(); ++d) {
    layout.shape[d] = dst.size(d);
    layout.src_strides[d] = src.strides()[size_t(d)];
    layout.dst_strides[d] = dst.strides()[size_t(d)];
  }
  const int threads = 256;
  const int blocks = int(std::min<int64_t>((n + threads - 1) / threads, 65535));
  if (src.dtype() == dst.dtype() && float_code(src.dtype()) < 0) {
    strided_bytes_kernel<<<blocks, threads, 0, ctx.stream()>>>(
        static_cast<const char*>(src.raw_data()), static_cast<char*>(dst.raw_data()),
        int(dtype_size(src.dtype())), layout, n);
  } else {
    FV_CHECK(float_code(src.dtype()) >= 0 && float_code(dst.dtype()) >= 0, "cannot convert ",
             src.describe(), " to ", dst.describe(), " on the device (F32, BF16 and F16 only)");
    strided_convert_kernel<<<blocks, threads, 0, ctx.stream()>>>(
        src.raw_data(), float_code(src.dtype()), dst.raw_data(), float_code(dst.dtype()), layout,
        n);
  }
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace

std::shared_ptr<Storage> allocate_storage(size_t bytes, Device device) {
  auto storage = std::make_shared<Storage>();
  storage->owner = DeviceAllocator::get(device.index).allocate(bytes);
  storage->data = storage->owner.get();
  storage->bytes = bytes;
  storage->device = device;
  return storage;
}

void fill_zero(const Tensor& t) {
  CudaContext& ctx = use_cuda_device(t.device().index);
  FV_CHECK(t.is_contiguous(), "fill_zero needs a contiguous tensor, got ", t.describe());
  FV_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), ctx.stream()));
}

namespace {

// Across GPUs, stream-ordered on both sides: the destination's stream waits for the source's
// work, copies a contiguous staging of the source into its own memory and finishes there; the
// source's stream then waits for the copy, so the staging buffer is not reused under it.
void copy_across_gpus(const Tensor& src, const Tensor& dst) {
  CudaContext& from = use_cuda_device(src.device().index);
  Tensor packed = src.contiguous();
  cudaEvent_t ready = nullptr, copied = nullptr;
  FV_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  FV_CUDA_CHECK(cudaEventRecord(ready, from.stream()));
  CudaContext& to = use_cuda_device(dst.device().index);
  Tensor landed = Tensor::empty(src.shape(), src.dtype(), dst.device());
  FV_CUDA_CHECK(cudaStreamWaitEvent(to.stream(), ready, 0));
  FV_CUDA_CHECK(cudaMemcpyPeerAsync(landed.raw_data(), dst.device().index, packed.raw_data(),
                                    src.device().index, packed.nbytes(), to.stream()));
  FV_CUDA_CHECK(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
  FV_CUDA_CHECK(cudaEventRecord(copied, to.stream()));
  copy_on_device(landed, dst);
  use_cuda_device(src.device().index);
  FV_CUDA_CHECK(cudaStreamWaitEvent(from.stream(), copied, 0));
  // Destroying an event with work still to reach it is allowed: it is released afterwards.
  cudaEventDestroy(ready);
  cudaEventDestroy(copied);
}

}  // namespace

void copy(const Tensor& src, const Tensor& dst) {
  const bool src_gpu = !src.device().is_cpu(), dst_gpu = !dst.device().is_cpu();
  if (src_gpu && dst_gpu) {
    if (src.device() == dst.device()) return copy_on_device(src, dst);
    return copy_across_gpus(src, dst);
  }
  if (dst_gpu) {  // host -> device: convert and pack on the host, one transfer, finish on device
    CudaContext& ctx = use_cuda_device(dst.device().index);
    Tensor host = src.to(dst.dtype()).contiguous();
    Tensor target =
        dst.is_contiguous() ? dst : Tensor::empty(dst.shape(), dst.dtype(), dst.device());
    FV_CUDA_CHECK(cudaMemcpyAsync(target.raw_data(), host.raw_data(), host.nbytes(),
                                  cudaMemcpyHostToDevice, ctx.stream()));
    // The host buffer may be freed when this returns.
    ctx.synchronize();
    if (!dst.is_contiguous()) copy_on_device(target, dst);
    return;
  }
  // device -> host: pack on the device in the source dtype, one transfer straight into dst where
  // it is contiguous of that dtype (Tensor::to's case), else into a buffer finished on the host.
  CudaContext& ctx = use_cuda_device(src.device().index);
  Tensor packed = src.contiguous();
  const bool direct = dst.is_contiguous() && dst.dtype() == src.dtype();
  Tensor host = direct ? dst : Tensor::empty(src.shape(), src.dtype());
  FV_CUDA_CHECK(cudaMemcpyAsync(host.raw_data(), packed.raw_data(), packed.nbytes(),
                                cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
  if (direct) return;
  Tensor target = dst;  // shares dst's storage
  target.copy_from(host);
}

int64_t device_memory_peak(int device) { return DeviceAllocator::get(device).stats().peak; }
void reset_device_memory_peak(int device) { DeviceAllocator::get(device).reset_peak(); }

}  // namespace fastvideo::cuda_detail
