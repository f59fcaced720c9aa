// Ulysses sequence parallelism (DeepSpeed-Ulysses, as FastVideo's DistributedAttention does it:
// fastvideo.md §6.4), issue 15. A rank holds a contiguous shard of the token sequence (padded with
// zeros to a multiple of the ranks) with every head; around self-attention an all-to-all trades
// that for every token of its share of the heads, the padding is trimmed so that no query sees a
// padded key, attention runs on whole sequences (so tile- and chunk-based backends see the whole
// token grid), and a second all-to-all trades back. Everything else (linears, norms,
// cross-attention, the FFN) runs on the local shard.
#pragma once

#include <functional>
#include <memory>

#include "core/tensor.h"
#include "parallel/communicator.h"

namespace fastvideo {

// Where rank `rank` of `size` sits in a sequence of `tokens`: the padded length (a multiple of
// size) and this rank's [begin, end) of it.
struct SequenceShard {
  int64_t tokens = 0, padded = 0, begin = 0, end = 0;
  static SequenceShard of(int64_t tokens, int rank, int size);
};

// x [B, tokens, ...] -> this rank's rows [B, end − begin, ...] of x padded with zeros.
Tensor shard_sequence(const Tensor& x, const SequenceShard& shard);
// The ranks' shards [B, end − begin, ...] -> the whole [B, tokens, ...] (padding dropped), on
// every rank.
Tensor gather_sequence(const Tensor& local, const SequenceShard& shard, Communicator& comm);

// Each rank takes a whole number of heads: else an error naming both counts.
void check_heads_divide(int64_t heads, int ranks);

// [B, padded / size, H, D] (this rank's tokens, every head) -> [B, padded, H / size, D] (every
// token, this rank's heads: h in [rank · H / size, (rank + 1) · H / size)). H must divide.
Tensor sequence_to_heads(const Tensor& x, Communicator& comm);

// sequence_to_heads in two halves: the constructor starts the exchange (on a GPU it runs on the
// communication stream while the rank goes on computing, issue 15), finish() waits for it and
// joins the senders' token shards. Every rank starts its exchanges in the same order.
class HeadsExchange {
 public:
  HeadsExchange(const Tensor& x, Communicator& comm);
  Tensor finish();  // [B, padded, H / size, D]; once

 private:
  std::unique_ptr<Communicator::Pending> pending_;
};
// The inverse.
Tensor heads_to_sequence(const Tensor& x, Communicator& comm);

using UlyssesAttend = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;

// Self-attention over sequence shards: q, k, v [B, padded / size, H, D] on each rank ->
// [B, padded / size, H, Dv], `attend` run on [B, tokens, H / size, ·] (whole sequences, padding
// trimmed) with the rank's heads. Heads must divide by the ranks: refused naming both.
Tensor ulysses_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                         const SequenceShard& shard, Communicator& comm,
                         const UlyssesAttend& attend);
// The same with q, k, v's exchanges already started (HeadsExchange), each as soon as it was made,
// so that each overlapped the making of the next.
Tensor ulysses_attention(HeadsExchange& q, HeadsExchange& k, HeadsExchange& v,
                         const SequenceShard& shard, Communicator& comm,
                         const UlyssesAttend& attend);

}  // namespace fastvideo
