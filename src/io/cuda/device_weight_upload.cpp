#include "io/cuda/device_weight_upload.h"

#include <algorithm>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "fastvideo/log.h"
#include "io/float_conversion.h"

namespace fastvideo {

PinnedStagingBuffer::PinnedStagingBuffer(size_t bytes, int device) : bytes_(bytes) {
  use_cuda_device(device);
  FV_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  const cudaError_t status = cudaHostAlloc(&data_, bytes, cudaHostAllocDefault);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    cudaEventDestroy(done_);
    fail("could not allocate ", bytes >> 20, " MiB of pinned host memory to stage weights for GPU ",
         device, ": ", cudaGetErrorString(status));
  }
}

PinnedStagingBuffer::~PinnedStagingBuffer() {
  // A copy may still read the buffer: wait for it before the memory goes back.
  if (cudaEventSynchronize(done_) != cudaSuccess) (void)cudaGetLastError();
  cudaFreeHost(data_);
  cudaEventDestroy(done_);
}

void PinnedStagingBuffer::wait_until_free() const { FV_CUDA_CHECK(cudaEventSynchronize(done_)); }

void PinnedStagingBuffer::mark_in_flight(cudaStream_t stream) {
  FV_CUDA_CHECK(cudaEventRecord(done_, stream));
}

namespace {

int gpu_index(Device device, size_t chunk_bytes) {
  FV_CHECK(!device.is_cpu(), "weight upload needs a GPU device, got ", device.name());
  FV_CHECK(chunk_bytes >= 16, "weight upload: staging chunk of ", chunk_bytes,
           " bytes is too small");
  return device.index;
}

}  // namespace

DeviceWeightUploader::DeviceWeightUploader(Device device, size_t chunk_bytes)
    : device_(device),
      buffers_{PinnedStagingBuffer(chunk_bytes, gpu_index(device, chunk_bytes)),
               PinnedStagingBuffer(chunk_bytes, device.index)} {}

DeviceWeightUploader::~DeviceWeightUploader() {
  try {
    finish();
  } catch (const Error& e) {
    log::error("weight upload to ", device_.name(), " failed while finishing: ", e.what());
  }
}

Tensor DeviceWeightUploader::upload(const Tensor& host, DType dtype, const std::string& what) {
  FV_CHECK(host.device().is_cpu() && host.is_contiguous(),
           "weight upload needs a contiguous CPU tensor, got ", host.describe());
  for (DType d : {host.dtype(), dtype}) {
    FV_CHECK(d == DType::F32 || d == DType::BF16 || d == DType::F16, "weight upload of ",
             host.describe(), " to ", dtype_name(dtype), ": only F32, BF16 and F16 convert");
  }
  CudaContext& ctx = use_cuda_device(device_.index);
  Tensor out = Tensor::empty(host.shape(), dtype, device_);
  const size_t in_size = dtype_size(host.dtype()), out_size = dtype_size(dtype);
  const size_t chunk = buffers_[0].bytes() / out_size;  // elements per staging buffer
  const auto* src = static_cast<const char*>(host.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  const size_t n = size_t(host.numel());
  for (size_t begin = 0; begin < n; begin += chunk) {
    const size_t count = std::min(chunk, n - begin);
    PinnedStagingBuffer& buffer = buffers_[next_];
    next_ ^= 1;
    // The other buffer's copy overlaps this conversion; this one's previous copy must be done.
    buffer.wait_until_free();
    const size_t bad =
        convert_floats(src + begin * in_size, host.dtype(), buffer.data(), dtype, count);
    if (bad < count) fail_non_finite_weight(what, begin + bad, n);
    FV_CUDA_CHECK(cudaMemcpyAsync(dst + begin * out_size, buffer.data(), count * out_size,
                                  cudaMemcpyHostToDevice, ctx.stream()));
    buffer.mark_in_flight(ctx.stream());
  }
  return out;
}

void DeviceWeightUploader::finish() {
  for (const PinnedStagingBuffer& b : buffers_) b.wait_until_free();
}

}  // namespace fastvideo
