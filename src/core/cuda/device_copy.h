// The device half of Tensor: storage on a GPU, zero fill, and copies between any two tensors of
// the same shape where at least one is on a GPU (any strides; F32/BF16/F16 converted on the way).
#pragma once

#include <memory>

#include "core/tensor.h"

namespace fastvideo::cuda_detail {

std::shared_ptr<Storage> allocate_storage(size_t bytes, Device device);
void fill_zero(const Tensor& t);
void copy(const Tensor& src, const Tensor& dst);
int64_t device_memory_peak(int device);
void reset_device_memory_peak(int device);

}  // namespace fastvideo::cuda_detail
