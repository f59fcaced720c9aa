// Sharded weights (FastVideo's use_fsdp_inference, fastvideo.md §6.3; issue 15): a stack of
// same-shaped layers (the DiT's blocks) of which each rank of a group keeps a 1/ranks piece on its
// device. A layer is its LayerLayout byte string cut into `ranks` equal pieces (the last padded);
// gather(i) puts layer i back together on every rank with one all_gather, before it runs, so a
// rank holds its pieces of every layer plus the layers it is running or gathering, not the whole
// model.
#pragma once

#include <memory>
#include <vector>

#include "core/tensor.h"
#include "parallel/communicator.h"
#include "runtime/layer_layout.h"

namespace fastvideo {

class ShardedLayers {
 public:
  // `layers` layers of `layout`, this being rank `rank` of `ranks`, its pieces on `device`.
  ShardedLayers(LayerLayout layout, int layers, int rank, int ranks, Device device);

  // Layer i's tensors (LayerLayout::check's rules): only this rank's piece is converted and kept.
  void set_layer(int i, const std::vector<Tensor>& tensors);

  // Layer i on this rank's device in layout order: views into the string all ranks' pieces make
  // up. Every rank of `comm` (this rank's group, of `ranks` ranks) calls it for the same layers
  // in the same order. On a GPU the gather is ordered on the device's stream before the work that
  // reads it, so the string may be dropped once that work is queued.
  std::vector<Tensor> gather(int i, Communicator& comm) const;

  // gather() in two halves, so a layer's gather can run while the layer before it computes
  // (issue 15; on a GPU the all-gather runs on the group's communication stream): start() queues
  // it, wait() gives the views.
  class PendingLayer {
   public:
    std::vector<Tensor> wait();  // once

   private:
    friend class ShardedLayers;
    PendingLayer(const LayerLayout* layout, std::unique_ptr<Communicator::Pending> pending)
        : layout_(layout), pending_(std::move(pending)) {}
    const LayerLayout* layout_;
    std::unique_ptr<Communicator::Pending> pending_;
  };
  PendingLayer start_gather(int i, Communicator& comm) const;

  int rank() const { return rank_; }
  int ranks() const { return ranks_; }
  int layers() const { return int(pieces_.size()); }
  size_t piece_bytes() const { return piece_bytes_; }

 private:
  LayerLayout layout_;
  int rank_, ranks_;
  Device device_;
  size_t piece_bytes_;
  std::vector<Tensor> pieces_;  // per layer: u8 [piece_bytes] on device_, undefined until set
};

}  // namespace fastvideo
