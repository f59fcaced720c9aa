#include "models/wan/vae/row_band.h"

#include <algorithm>
#include <vector>

#include "fastvideo/error.h"
#include "ops/tensor_ops.h"

namespace fastvideo {

namespace {

// rows (n along dim h) followed by zero rows up to `total` rows.
Tensor pad_with_zero_rows(const Tensor& rows, int64_t total, int h) {
  if (rows.size(h) == total) return rows;
  Shape shape = rows.shape();
  shape[size_t(h)] = total - rows.size(h);
  const Tensor zeros = Tensor::zeros(shape, rows.dtype(), rows.device());
  if (rows.size(h) == 0) return zeros;
  const Tensor parts[] = {rows, zeros};
  return ops::concat(parts, h);
}

}  // namespace

RowBand::RowBand(Communicator& comm, int64_t latent_rows)
    : comm_(&comm),
      latent_rows_(latent_rows),
      rows_per_rank_((latent_rows + comm.size() - 1) / comm.size()) {
  FV_CHECK(latent_rows >= 1, "VAE height split: latents ", latent_rows,
           " rows tall cannot be split among ", comm.size(), " ranks");
}

int64_t RowBand::image_rows(const Tensor& x, int h) const {
  FV_CHECK(x.ndim() == 5 && x.size(h) % rows_per_rank_ == 0, "VAE height split: ", x.describe(),
           " is not a band of ", rows_per_rank_, " latent rows at some resolution");
  return latent_rows_ * (x.size(h) / rows_per_rank_);
}

Tensor RowBand::zero_padding(const Tensor& x, int h) const {
  const int64_t rows = x.size(h);
  const int64_t real = std::clamp(image_rows(x, h) - comm_->rank() * rows, int64_t{0}, rows);
  return pad_with_zero_rows(x.slice(h, 0, real), rows, h);
}

Tensor RowBand::band_of(const Tensor& whole) const {
  FV_CHECK(whole.ndim() == 5 && whole.size(3) == latent_rows_, "VAE height split: expected [B,C,T,",
           latent_rows_, ",W], got ", whole.describe());
  const int64_t begin = std::min(comm_->rank() * rows_per_rank_, latent_rows_);
  const int64_t end = std::min(begin + rows_per_rank_, latent_rows_);
  return pad_with_zero_rows(whole.slice(3, begin, end), rows_per_rank_, 3).contiguous();
}

Tensor RowBand::with_halo(const Tensor& x, int64_t halo, int h) const {
  if (halo == 0) return x;
  const int64_t rows = x.size(h);
  FV_CHECK(halo <= rows, "VAE height split: a halo of ", halo, " rows around a band of ", rows);
  const Tensor band = zero_padding(x, h);
  // Every band's first and last `halo` rows, stacked over the ranks.
  const Tensor own_edges[] = {band.slice(h, 0, halo), band.slice(h, rows - halo, rows)};
  const Tensor edges = comm_->all_gather(ops::concat(own_edges, h));
  Shape outside = x.shape();
  outside[size_t(h)] = halo;
  const Tensor zeros = Tensor::zeros(outside, x.dtype(), x.device());
  const int r = comm_->rank();
  const Tensor above = r > 0 ? edges.select(0, r - 1).slice(h, halo, 2 * halo) : zeros;
  const Tensor below = r + 1 < comm_->size() ? edges.select(0, r + 1).slice(h, 0, halo) : zeros;
  const Tensor parts[] = {above, band, below};
  return ops::concat(parts, h);
}

Tensor RowBand::gather(const Tensor& x, int h) const {
  const int64_t image = image_rows(x, h), rows = x.size(h);
  const Tensor all = comm_->all_gather(x.contiguous());  // [ranks, x's shape]
  std::vector<Tensor> bands;
  for (int r = 0; r < comm_->size() && r * rows < image; ++r)
    bands.push_back(all.select(0, r).slice(h, 0, std::min(rows, image - r * rows)));
  return ops::concat(bands, h);
}

}  // namespace fastvideo
