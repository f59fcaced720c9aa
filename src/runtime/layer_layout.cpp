#include "runtime/layer_layout.h"

#include <algorithm>
#include <cstring>

#include "fastvideo/error.h"
#include "io/float_conversion.h"
#include "io/safetensors.h"

namespace fastvideo {

LayerLayout::LayerLayout(std::vector<Member> members) : members_(std::move(members)) {
  FV_CHECK(!members_.empty(), "a layer without tensors");
  for (const Member& m : members_) {
    offsets_.push_back(bytes_);
    bytes_ += align_to_layer(size_t(shape_numel(m.shape)) * dtype_size(m.dtype));
  }
}

void LayerLayout::check(const std::vector<Tensor>& tensors, const std::string& what) const {
  FV_CHECK(tensors.size() == members_.size(), what, " has ", tensors.size(),
           " tensors, the layout ", members_.size());
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    FV_CHECK(t.device().is_cpu() && t.is_contiguous() && is_float_dtype(t.dtype()) &&
                 t.shape() == members_[k].shape,
             what, " tensor ", k, " is ", t.describe(),
             ", expected a contiguous float cpu tensor of shape ", shape_str(members_[k].shape));
  }
}

namespace {

std::string member_name(const LayerLayout::Member& m, size_t k) {
  return m.name.empty() ? str_cat("tensor ", k) : m.name;
}

}  // namespace

void LayerLayout::check_finite(const std::vector<Tensor>& tensors, const std::string& what) const {
  for (size_t k = 0; k < tensors.size() && k < members_.size(); ++k) {
    const size_t n = size_t(tensors[k].numel());
    const size_t bad = first_non_finite(tensors[k].raw_data(), tensors[k].dtype(), n);
    if (bad < n) fail_non_finite_weight(str_cat(what, ", ", member_name(members_[k], k)), bad, n);
  }
}

void LayerLayout::pack(const std::vector<Tensor>& tensors, char* out, size_t begin, size_t end,
                       const std::string& what) const {
  FV_CHECK(
      begin <= end && begin % kLayerAlignment == 0 && (end % kLayerAlignment == 0 || end == bytes_),
      "a layer's bytes [", begin, ", ", end, ") do not start and end on member elements");
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    const size_t size = dtype_size(members_[k].dtype);
    const size_t member_end = offsets_[k] + size_t(t.numel()) * size;
    const size_t lo = std::max(begin, offsets_[k]), hi = std::min(end, member_end);
    // The alignment gap after the member (up to the next one, or the string's end) is zero; the
    // members' own bytes are written below, so nothing is written twice.
    const size_t gap_begin = std::max(begin, member_end);
    const size_t gap_end = std::min(end, k + 1 < offsets_.size() ? offsets_[k + 1] : bytes_);
    if (gap_begin < gap_end) std::memset(out + (gap_begin - begin), 0, gap_end - gap_begin);
    if (lo < hi) {
      const size_t first = (lo - offsets_[k]) / size;
      const size_t count = (hi - lo) / size;
      const size_t bad =
          convert_floats(static_cast<const char*>(t.raw_data()) + first * dtype_size(t.dtype()),
                         t.dtype(), out + (lo - begin), members_[k].dtype, count);
      if (bad < count) {
        fail_non_finite_weight(str_cat(what, ", ", member_name(members_[k], k)), first + bad,
                               size_t(t.numel()));
      }
    }
    release_mapped_pages(t);
  }
}

std::vector<Tensor> LayerLayout::views(const Tensor& string) const {
  FV_CHECK(string.is_contiguous() && string.nbytes() >= bytes_, "a layer's ", bytes_,
           " bytes do not fit ", string.describe());
  return views(string.raw_data(), string.owner(), string.device());
}

std::vector<Tensor> LayerLayout::views(void* data, const std::shared_ptr<void>& owner,
                                       Device device) const {
  std::vector<Tensor> out;
  for (size_t k = 0; k < members_.size(); ++k) {
    out.push_back(Tensor::borrow(static_cast<char*>(data) + offsets_[k], members_[k].shape,
                                 members_[k].dtype, owner, device));
  }
  return out;
}

}  // namespace fastvideo
