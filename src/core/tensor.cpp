#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/device_copy.h"
#endif

namespace fastvideo {

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t shape_numel(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

static Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

[[maybe_unused, noreturn]] static void fail_no_cuda(const char* what, Device device) {
  fail(what, " on ", device.name(), " needs the CUDA backend, which this build does not have");
}

static std::shared_ptr<Storage> allocate(size_t bytes, Device device) {
  if (!device.is_cpu()) {
#ifdef FASTVIDEO_HAVE_CUDA
    return cuda_detail::allocate_storage(bytes, device);
#else
    fail_no_cuda("allocating", device);
#endif
  }
  auto storage = std::make_shared<Storage>();
  // 64-byte alignment for vector loads; at least one byte so empty tensors still have storage.
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) fail("out of host memory allocating ", bytes, " bytes");
  storage->data = p;
  storage->bytes = bytes;
  storage->device = device;
  storage->owner = std::shared_ptr<void>(p, std::free);
  return storage;
}

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  for (int64_t d : shape) FV_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  Tensor t;
  t.storage_ = allocate(size_t(shape_numel(shape)) * dtype_size(dtype), device);
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device device) {
  Tensor t = empty(std::move(shape), dtype, device);
  if (device.is_cpu()) {
    std::memset(t.raw_data(), 0, t.nbytes());
  } else {
#ifdef FASTVIDEO_HAVE_CUDA
    cuda_detail::fill_zero(t);
#else
    fail_no_cuda("zeros", device);
#endif
  }
  return t;
}

Tensor Tensor::full(Shape shape, float value) {
  Tensor t = empty(std::move(shape), DType::F32);
  std::fill_n(t.data<float>(), t.numel(), value);
  return t;
}

const std::shared_ptr<void>& Tensor::owner() const {
  static const std::shared_ptr<void> none;
  return storage_ ? storage_->owner : none;
}

Tensor Tensor::borrow(void* data, Shape shape, DType dtype, std::shared_ptr<void> owner,
                      Device device) {
  Tensor t;
  t.storage_ = std::make_shared<Storage>();
  t.storage_->data = data;
  t.storage_->bytes = size_t(shape_numel(shape)) * dtype_size(dtype);
  t.storage_->device = device;
  t.storage_->owner = std::move(owner);
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  return t;
}

namespace {

// A CPU tensor holding `values` in `shape` (what: the caller's name for the error).
template <class T>
Tensor tensor_of(const std::vector<T>& values, Shape shape, DType dtype, const char* what) {
  FV_CHECK(shape_numel(shape) == int64_t(values.size()), what, ": ", values.size(),
           " values do not fill shape ", shape_str(shape));
  Tensor t = Tensor::empty(std::move(shape), dtype);
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

}  // namespace

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape) {
  return tensor_of(values, std::move(shape), DType::F32, "from_vector");
}

Tensor Tensor::from_vector_i32(const std::vector<int32_t>& values, Shape shape) {
  return tensor_of(values, std::move(shape), DType::I32, "from_vector_i32");
}

int Tensor::wrap_dim(int dim) const {
  int d = dim < 0 ? dim + ndim() : dim;
  FV_CHECK(d >= 0 && d < ndim(), "dimension ", dim, " out of range for ", describe());
  return d;
}

int64_t Tensor::size(int dim) const { return shape_[wrap_dim(dim)]; }

// Like torch: the stride of a size-1 dimension does not matter.
bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  FV_CHECK(defined(), "use of an undefined tensor");
  return static_cast<char*>(storage_->data) + offset_ * int64_t(dtype_size(dtype_));
}

void Tensor::check_element_type(size_t element_size) const {
  FV_CHECK(dtype_size(dtype_) == element_size, "tensor ", describe(), " accessed with a ",
           element_size, "-byte element type");
}

std::span<float> Tensor::f32() const {
  FV_CHECK(dtype_ == DType::F32 && device().is_cpu() && is_contiguous(),
           "expected a contiguous f32 CPU tensor, got ", describe());
  return {data<float>(), size_t(numel())};
}

Tensor Tensor::reshape(Shape shape) const {
  FV_CHECK(is_contiguous(), "reshape of non-contiguous ", describe(), "; call contiguous() first");
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      FV_CHECK(infer < 0, "reshape to ", shape_str(shape), ": more than one -1");
      infer = int(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known > 0) shape[infer] = numel() / known;
  FV_CHECK(shape_numel(shape) == numel(), "cannot reshape ", describe(), " to ", shape_str(shape));
  Tensor t = *this;
  t.strides_ = contiguous_strides(shape);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int dim, int64_t start, int64_t end) const {
  int d = wrap_dim(dim);
  FV_CHECK(0 <= start && start <= end && end <= shape_[d], "slice [", start, ",", end,
           ") out of range for dim ", d, " of ", describe());
  Tensor t = *this;
  t.offset_ += start * strides_[d];
  t.shape_[d] = end - start;
  return t;
}

Tensor Tensor::select(int dim, int64_t index) const {
  int d = wrap_dim(dim);
  FV_CHECK(0 <= index && index < shape_[d], "index ", index, " out of range for dim ", d, " of ",
           describe());
  Tensor t = *this;
  t.offset_ += index * strides_[d];
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::transpose(int a, int b) const {
  int da = wrap_dim(a), db = wrap_dim(b);
  Tensor t = *this;
  std::swap(t.shape_[da], t.shape_[db]);
  std::swap(t.strides_[da], t.strides_[db]);
  return t;
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  FV_CHECK(int(order.size()) == ndim(), "permute order has ", order.size(), " dims for ",
           describe());
  Tensor t = *this;
  for (int i = 0; i < ndim(); ++i) {
    int src = wrap_dim(order[i]);
    t.shape_[i] = shape_[src];
    t.strides_[i] = strides_[src];
  }
  return t;
}

Tensor Tensor::unsqueeze(int dim) const {
  int d = dim < 0 ? dim + ndim() + 1 : dim;
  FV_CHECK(d >= 0 && d <= ndim(), "unsqueeze dim ", dim, " out of range for ", describe());
  Tensor t = *this;
  int64_t stride = d < ndim() ? strides_[d] * shape_[d] : 1;
  t.shape_.insert(t.shape_.begin() + d, 1);
  t.strides_.insert(t.strides_.begin() + d, stride);
  return t;
}

// Calls fn(dst_index, src_offset) for every element of a strided CPU tensor in row-major order.
template <class Fn>
static void for_each_offset(const Tensor& t, Fn&& fn) {
  const int nd = t.ndim();
  const int64_t n = t.numel();
  if (n == 0) return;
  std::vector<int64_t> idx(nd, 0);
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, off);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < t.size(d)) {
        off += t.strides()[d];
        break;
      }
      off -= t.strides()[d] * (t.size(d) - 1);
      idx[d] = 0;
    }
  }
}

void Tensor::copy_from(const Tensor& src) {
  FV_CHECK(src.shape() == shape_, "copy_from: source ", src.describe(), " into ", describe());
  if (!device().is_cpu() || !src.device().is_cpu()) {
#ifdef FASTVIDEO_HAVE_CUDA
    cuda_detail::copy(src, *this);
    return;
#else
    fail_no_cuda("copy_from", device().is_cpu() ? src.device() : device());
#endif
  }
  if (is_contiguous() && src.is_contiguous()) {
    if (src.dtype() == dtype_) {
      std::memcpy(raw_data(), src.raw_data(), nbytes());
    } else if (dtype_ == DType::F32) {
      convert_to_f32(src.raw_data(), src.dtype(), data<float>(), size_t(numel()));
    } else if (src.dtype() == DType::F32) {
      convert_from_f32(src.data<float>(), raw_data(), dtype_, size_t(numel()));
    } else {
      copy_from(src.to(DType::F32));
    }
    return;
  }
  // Strided: gather into a contiguous buffer of the source dtype, then convert.
  const size_t es = dtype_size(src.dtype());
  Tensor packed = empty(shape_, src.dtype());
  auto* dst = static_cast<char*>(packed.raw_data());
  auto* base = static_cast<const char*>(src.raw_data());
  for_each_offset(src, [&](int64_t i, int64_t off) {
    std::memcpy(dst + i * int64_t(es), base + off * int64_t(es), es);
  });
  if (is_contiguous()) {
    copy_from(packed);
    return;
  }
  Tensor converted = packed.to(dtype_);
  const size_t des = dtype_size(dtype_);
  auto* out = static_cast<char*>(raw_data());
  auto* in = static_cast<const char*>(converted.raw_data());
  for_each_offset(*this, [&](int64_t i, int64_t off) {
    std::memcpy(out + off * int64_t(des), in + i * int64_t(des), des);
  });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor t = empty(shape_, dtype, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  std::string s(dtype_name(dtype_));
  for (auto& c : s) c = char(std::tolower(c));
  return s + shape_str(shape_) + " " + device().name();
}

void check_shape(const Tensor& t, std::span<const int64_t> expected, const std::string& what) {
  if (!std::equal(t.shape().begin(), t.shape().end(), expected.begin(), expected.end())) {
    fail(what, ": got ", t.describe(), ", expected shape ", shape_str(expected));
  }
}

}  // namespace fastvideo
