// Tensor: dtype, shape, strides (in elements), device and shared storage. Views share storage;
// contiguous() copies only when needed. No autograd.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "fastvideo/error.h"

namespace fastvideo {

using Shape = std::vector<int64_t>;

std::string shape_str(std::span<const int64_t> shape);  // "[2,3,4]"
int64_t shape_numel(std::span<const int64_t> shape);

// Owned or borrowed bytes. `owner` keeps borrowed memory (an mmap, a device block) alive.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;
  std::shared_ptr<void> owner;
};

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(Shape shape, DType dtype, Device device = Device::cpu());
  static Tensor zeros(Shape shape, DType dtype, Device device = Device::cpu());
  static Tensor full(Shape shape, float value);  // f32 on the CPU
  // Borrows `data` (not copied); `owner` keeps it alive.
  static Tensor borrow(void* data, Shape shape, DType dtype, std::shared_ptr<void> owner,
                       Device device = Device::cpu());
  static Tensor from_vector(const std::vector<float>& values, Shape shape);  // f32 CPU copy
  static Tensor from_vector_i32(const std::vector<int32_t>& values, Shape shape);  // i32 CPU copy

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::cpu(); }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int ndim() const { return int(shape_.size()); }
  int64_t size(int dim) const;  // negative dims count from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;

  void* raw_data() const;
  // What keeps the bytes alive (a heap block, an mmap, a device block); null when undefined.
  const std::shared_ptr<void>& owner() const;
  template <class T>
  T* data() const {
    check_element_type(sizeof(T));
    return static_cast<T*>(raw_data());
  }
  // Contiguous f32 CPU data as a span (checks all three).
  std::span<float> f32() const;

  // Views (no copy). reshape() needs a contiguous tensor; one dim may be -1.
  Tensor reshape(Shape shape) const;
  Tensor slice(int dim, int64_t start, int64_t end) const;
  Tensor select(int dim, int64_t index) const;  // drops the dim
  Tensor transpose(int a, int b) const;
  Tensor permute(const std::vector<int>& order) const;
  Tensor unsqueeze(int dim) const;

  // Copies.
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;       // converts through f32 on the CPU, in one kernel on a GPU
  Tensor to(Device device) const;     // host <-> GPU copy, same dtype
  void copy_from(const Tensor& src);  // same shape; any strides and float dtypes on the CPU

  std::string describe() const;  // "f32[2,3] cpu"

 private:
  void check_element_type(size_t element_size) const;
  int wrap_dim(int dim) const;

  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // elements
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::F32;
};

// Shape check with a message naming what the tensor is: "attn q: got f32[2,3], expected [2,4]".
void check_shape(const Tensor& t, std::span<const int64_t> expected, const std::string& what);

}  // namespace fastvideo
