#include "parallel/ulysses.h"

#include <vector>

#include "fastvideo/error.h"
#include "ops/tensor_ops.h"

namespace fastvideo {

SequenceShard SequenceShard::of(int64_t tokens, int rank, int size) {
  FV_CHECK(size >= 1 && rank >= 0 && rank < size && tokens >= 0, "sequence shard: rank ", rank,
           " of ", size, " over ", tokens, " tokens");
  const int64_t per_rank = (tokens + size - 1) / size;
  return {tokens, per_rank * size, rank * per_rank, (rank + 1) * per_rank};
}

namespace {

// x [B, n, ...] with rows appended as zeros up to `rows`.
Tensor pad_rows(const Tensor& x, int64_t rows) {
  if (x.size(1) == rows) return x;
  Shape shape = x.shape();
  shape[1] = rows - x.size(1);
  const Tensor parts[] = {x, Tensor::zeros(shape, x.dtype(), x.device())};
  return ops::concat(parts, 1);
}

void check_heads(const Tensor& x, int ranks, const char* what) {
  FV_CHECK(x.ndim() == 4, what, ": expected [B, S, H, D], got ", x.describe());
  check_heads_divide(x.size(2), ranks);
}

}  // namespace

void check_heads_divide(int64_t heads, int ranks) {
  FV_CHECK(heads % ranks == 0, "sequence parallelism: ", heads,
           " attention heads do not divide among sp_size = ", ranks,
           " GPUs (each takes a whole number of heads)");
}

Tensor shard_sequence(const Tensor& x, const SequenceShard& shard) {
  FV_CHECK(x.ndim() >= 2 && x.size(1) == shard.tokens, "shard_sequence: ", x.describe(),
           " does not have ", shard.tokens, " tokens");
  return pad_rows(x, shard.padded).slice(1, shard.begin, shard.end).contiguous();
}

Tensor gather_sequence(const Tensor& local, const SequenceShard& shard, Communicator& comm) {
  // [P, B, rows, ...] -> [B, P · rows, ...]: the shards in rank order along the sequence.
  const Tensor all = comm.all_gather(local);
  std::vector<Tensor> shards;
  for (int r = 0; r < comm.size(); ++r) shards.push_back(all.select(0, r));
  return ops::concat(shards, 1).slice(1, 0, shard.tokens).contiguous();
}

HeadsExchange::HeadsExchange(const Tensor& x, Communicator& comm) {
  const int P = comm.size();
  check_heads(x, P, "sequence_to_heads");
  const int64_t per_rank = x.size(2) / P;
  std::vector<Tensor> chunks;
  for (int j = 0; j < P; ++j)
    chunks.push_back(x.slice(2, j * per_rank, (j + 1) * per_rank).contiguous());
  pending_ = comm.start_all_to_all(chunks);
}

Tensor HeadsExchange::finish() {
  FV_CHECK(pending_, "HeadsExchange::finish() called twice");
  const std::vector<Tensor> shards = pending_->wait();
  pending_.reset();
  return ops::concat(shards, 1);  // senders' token shards, in rank order
}

Tensor sequence_to_heads(const Tensor& x, Communicator& comm) {
  return HeadsExchange(x, comm).finish();
}

Tensor heads_to_sequence(const Tensor& x, Communicator& comm) {
  const int P = comm.size();
  FV_CHECK(x.ndim() == 4 && x.size(1) % P == 0, "heads_to_sequence: ", x.describe(),
           " is not [B, a multiple of ", P, " tokens, H, D]");
  const int64_t per_rank = x.size(1) / P;
  std::vector<Tensor> chunks;
  for (int j = 0; j < P; ++j)
    chunks.push_back(x.slice(1, j * per_rank, (j + 1) * per_rank).contiguous());
  return ops::concat(comm.all_to_all(chunks), 2);  // senders' heads, in rank order
}

Tensor ulysses_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                         const SequenceShard& shard, Communicator& comm,
                         const UlyssesAttend& attend) {
  for (const Tensor* t : {&q, &k, &v}) check_heads(*t, comm.size(), "ulysses_attention");
  FV_CHECK(q.size(1) == shard.end - shard.begin && k.size(1) == q.size(1) && v.size(1) == q.size(1),
           "ulysses_attention: q ", q.describe(), ", k ", k.describe(), ", v ", v.describe(),
           " are not this rank's ", shard.end - shard.begin, " tokens");
  HeadsExchange qh(q, comm), kh(k, comm), vh(v, comm);
  return ulysses_attention(qh, kh, vh, shard, comm, attend);
}

Tensor ulysses_attention(HeadsExchange& q, HeadsExchange& k, HeadsExchange& v,
                         const SequenceShard& shard, Communicator& comm,
                         const UlyssesAttend& attend) {
  const auto whole = [&](HeadsExchange& x) {
    const Tensor all = x.finish();
    FV_CHECK(all.size(1) == shard.padded, "ulysses_attention: ", all.describe(),
             " after the exchange, expected ", shard.padded, " tokens");
    return all.slice(1, 0, shard.tokens).contiguous();
  };
  const Tensor wq = whole(q), wk = whole(k), wv = whole(v);
  const Tensor out = attend(wq, wk, wv);
  return heads_to_sequence(pad_rows(out, shard.padded), comm);
}

}  // namespace fastvideo
