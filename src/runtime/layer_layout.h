// One layer's weights (a DiT block's) as one byte string: each tensor at a 256-byte-aligned offset
// in a fixed dtype. Layerwise offload copies such strings to the GPU whole; sharded weights cut
// them among ranks and put them back together before use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastvideo {

class LayerLayout {
 public:
  struct Member {  // one tensor of the layer, as it is stored in the string
    Shape shape;
    DType dtype;
    std::string name = {};  // within the layer ("attn1.to_q.weight"), for messages
  };
  // Refuses an empty layer.
  explicit LayerLayout(std::vector<Member> members);

  const std::vector<Member>& members() const { return members_; }
  size_t bytes() const {
    return bytes_;
  }  // of the whole string, the last tensor's padding included

  // `tensors` can be packed: one per member, of its shape, contiguous CPU tensors of any float
  // dtype. Errors name `what`, the member and the tensor.
  void check(const std::vector<Tensor>& tensors, const std::string& what) const;
  // Every value of `tensors` is finite (pack checks what it converts; this is for tensors kept to
  // be packed later). Errors name `what`, the member and the element.
  void check_finite(const std::vector<Tensor>& tensors, const std::string& what) const;
  // Writes checked `tensors` converted to the members' dtypes at their offsets in `out`
  // (bytes() long), and drops their mapped pages. A value that is NaN or Inf is an error naming
  // `what` (the layer) and the member.
  void pack(const std::vector<Tensor>& tensors, char* out, const std::string& what) const {
    pack(tensors, out, 0, bytes_, what);
  }
  // The same for bytes [begin, end) of the string only (multiples of 256, so no element is cut),
  // written to out[0, end − begin): what lies outside the members is zero.
  void pack(const std::vector<Tensor>& tensors, char* out, size_t begin, size_t end,
            const std::string& what) const;
  // The members as views into `string` (at least bytes() bytes, any device), sharing its storage.
  std::vector<Tensor> views(const Tensor& string) const;
  // The same into bytes that `owner` keeps alive on `device`.
  std::vector<Tensor> views(void* data, const std::shared_ptr<void>& owner, Device device) const;

 private:
  std::vector<Member> members_;
  std::vector<size_t> offsets_;
  size_t bytes_ = 0;
};

inline constexpr size_t kLayerAlignment = 256;  // of each member in a LayerLayout string
// bytes rounded up to a multiple of kLayerAlignment.
inline constexpr size_t align_to_layer(size_t bytes) {
  return (bytes + kLayerAlignment - 1) / kLayerAlignment * kLayerAlignment;
}

}  // namespace fastvideo
