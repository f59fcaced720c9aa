// The Wan VAE decode split along the height across ranks (issue 15, models/wan/vae/row_band.h), its
// ranks as threads of a local group: a band's halo is the rows the unsplit conv sees, and every
// rank's video equals the unsplit decode for heights the ranks do not divide, more ranks than
// latent rows included; tiling with the split is refused, and a rank failing mid-decode stops the
// others without a hang, its error naming it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "models/wan/vae/row_band.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "ops/tensor_ops.h"
#include "random_vae_weights.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

// Wan2.1's decoder at base_dim 8: every kind of block (two temporal upsamplers, one spatial-only),
// small enough for the CPU.
WanVaeConfig tiny_config() {
  WanVaeConfig c;
  c.base_dim = 8;
  for (int i = 0; i < c.z_dim; ++i) {
    c.latents_mean.push_back(0.1f * float(i) - 0.8f);
    c.latents_std.push_back(1.0f + 0.1f * float(i));
  }
  return c;
}

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

// Every rank returns the whole video, equal to the unsplit decode: latents 3 frames long (the
// causal caches and both temporal upsamplers run) and 6 wide. Equal up to rounding, not bitwise:
// the convs' and the attention's GEMMs run on band-sized matrices (one rank: bitwise).
TEST(WanVaeSplit, EveryRankDecodesTheUnsplitVideo) {
  const WanVaeConfig config = tiny_config();
  const WanVaeDecoder decoder(config, testing::random_vae_weights(config));
  for (const SplitCase& c : kCases) {
    const Tensor latents = randn({1, 16, 3, c.rows, 6});
    const Tensor want = decoder.decode(latents);
    ASSERT_EQ(want.shape(), (Shape{1, 3, 9, 8 * c.rows, 48}));
    // Not a degenerate comparison: most outputs are inside (−1, 1), not clamped.
    const auto interior =
        std::ranges::count_if(want.f32(), [](float v) { return std::abs(v) < 0.999f; });
    ASSERT_GT(interior, want.numel() / 2);
    std::mutex mutex;
    double worst = 0;
    run_local_group(c.ranks, [&](Communicator& comm) {
      const Tensor got = decoder.decode(latents, std::nullopt, &comm);
      ASSERT_EQ(got.shape(), want.shape()) << "rank " << comm.rank();
      const double err = rel_l2(got, want);
      std::lock_guard lock(mutex);
      worst = std::max(worst, err);
    });
    EXPECT_LE(worst, 1e-5) << c.rows << " latent rows over " << c.ranks << " ranks";
  }
}

// The split as a mode (enable_height_split): a plain decode() runs every rank (threads sharing
// this decoder on the CPU) and returns the unsplit video; tiling is refused then too.
TEST(WanVaeSplit, HeightSplitModeDecodesBehindOnePlainCall) {
  const WanVaeConfig config = tiny_config();
  const Weights weights = testing::random_vae_weights(config);
  const WanVaeDecoder one(config, weights);
  WanVaeDecoder split(config, weights);
  split.enable_height_split({}, make_local_group(3));
  EXPECT_EQ(split.height_split_size(), 3);
  const Tensor latents = randn({1, 16, 2, 5, 6});
  EXPECT_LE(rel_l2(split.decode(latents), one.decode(latents)), 1e-5);
  EXPECT_TRUE(testing::contains(testing::error_of([&] { split.decode(latents, VaeTiling{}); }),
                                "VAE tiling and the VAE height split across 3 ranks"));
  std::vector<std::unique_ptr<WanVaeDecoder>> two;
  two.push_back(std::make_unique<WanVaeDecoder>(config, weights));
  two.push_back(std::make_unique<WanVaeDecoder>(config, weights));
  EXPECT_TRUE(testing::contains(
      testing::error_of([&] {
        WanVaeDecoder(config, weights).enable_height_split(std::move(two), make_local_group(2));
      }),
      "needs 1 replicas of the decoder (or none on the CPU), got 2"));
}

TEST(WanVaeSplit, TilingWithTheSplitIsRefusedNamingBoth) {
  const WanVaeConfig config = tiny_config();
  const WanVaeDecoder decoder(config, testing::random_vae_weights(config));
  const Tensor latents = randn({1, 16, 1, 4, 4});
  const std::string m = testing::error_of([&] {
    run_local_group(2, [&](Communicator& comm) { decoder.decode(latents, VaeTiling{}, &comm); });
  });
  EXPECT_TRUE(testing::contains(m, "VAE tiling and the VAE height split across 2 ranks")) << m;
}

// Rank `failing`'s collectives throw from the n-th all_gather on, as a device error in the
// middle of the decode would; everything else is the local group's.
class FailingCommunicator final : public Communicator {
 public:
  FailingCommunicator(std::unique_ptr<Communicator> inner, int failing, int n)
      : inner_(std::move(inner)), fails_(inner_->rank() == failing), left_(n) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::vector<Tensor> all_to_all(const std::vector<Tensor>& chunks) override {
    return inner_->all_to_all(chunks);
  }
  Tensor all_gather(const Tensor& t) override {
    if (fails_ && --left_ <= 0) throw std::runtime_error("an illegal memory access");
    return inner_->all_gather(t);
  }
  void abort(const std::string& cause) override { inner_->abort(cause); }
  void wait_collectives() override { inner_->wait_collectives(); }

 private:
  std::unique_ptr<Communicator> inner_;
  bool fails_;
  int left_;
};

TEST(WanVaeSplit, ARankFailingMidDecodeStopsTheGroupAndIsNamed) {
  const WanVaeConfig config = tiny_config();
  const WanVaeDecoder decoder(config, testing::random_vae_weights(config));
  const Tensor latents = randn({1, 16, 2, 5, 4});
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (auto& comm : make_local_group(3))
    ranks.push_back(std::make_unique<FailingCommunicator>(std::move(comm), 1, 20));
  const std::string m = testing::error_of([&] {
    run_ranks(ranks, [&](Communicator& comm) { decoder.decode(latents, std::nullopt, &comm); });
  });
  EXPECT_TRUE(testing::contains(m, "rank 1: an illegal memory access")) << m;
}

}  // namespace
}  // namespace fastvideo
