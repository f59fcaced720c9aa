// The Wan VAE decode split along the height across ranks (issue 15, models/wan/vae/row_band.h), its
// ranks as threads of a local group: a band's halo is the rows the unsplit conv sees.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "models/wan/vae/row_band.h"
#include "ops/tensor_ops.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

// x [B, C, T, H, W] with `above` zero rows on top and `below` at the bottom.
Tensor pad_rows(const Tensor& x, int64_t above, int64_t below) {
  Shape top = x.shape(), bottom = x.shape();
  top[3] = above;
  bottom[3] = below;
  const Tensor parts[] = {Tensor::zeros(top, DType::F32), x, Tensor::zeros(bottom, DType::F32)};
  return ops::concat(parts, 3);
}

// Latent heights and rank counts: bands of 4, 3 and 1 rows with padding, and ranks whose band
// lies wholly past the image end (4 rows in bands of 2 for 3 ranks, 1 row for 3 ranks).
struct SplitCase {
  int64_t rows;
  int ranks;
};
const SplitCase kCases[] = {{7, 1}, {7, 2}, {7, 3}, {5, 2}, {5, 3}, {4, 3}, {1, 3}};

// Before every 3×3 conv a band sees, above and below it, the rows the whole image has there, with
// the image's zero padding beyond its edges and the rows past its end zeroed (whatever they held).
TEST(RowBand, HaloIsTheRowsAroundTheBandInTheZeroPaddedImage) {
  for (const SplitCase& c : kCases) {
    for (const int64_t scale : {1, 4}) {  // the latent resolution, and after two upsamplers
      const int64_t image = c.rows * scale;
      const Tensor whole = randn({1, 2, 2, image, 3});
      run_local_group(c.ranks, [&](Communicator& comm) {
        const RowBand band(comm, c.rows);
        const int64_t rows = band.latent_rows_per_rank() * scale, begin = comm.rank() * rows;
        const int64_t padded = rows * comm.size();
        // This rank's rows of the image, with rows past its end holding garbage.
        const Tensor padded_image = pad_rows(whole, 0, padded - image);
        Tensor local = padded_image.slice(3, begin, begin + rows).contiguous();
        for (int64_t r = std::max(image - begin, int64_t{0}); r < rows; ++r)
          local.slice(3, r, r + 1).copy_from(Tensor::full({1, 2, 2, 1, 3}, 7.0f));
        const Tensor want = pad_rows(padded_image, 1, 1).slice(3, begin, begin + rows + 2);
        EXPECT_EQ(rel_l2(band.with_halo(local, 1), want.contiguous()), 0.0)
            << c.rows << " rows ×" << scale << ", rank " << comm.rank() << " of " << c.ranks;
        EXPECT_EQ(rel_l2(band.gather(local), whole), 0.0) << c.rows << " rows ×" << scale;
      });
    }
  }
}

}  // namespace
}  // namespace fastvideo
