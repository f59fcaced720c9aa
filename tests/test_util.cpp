#include "test_util.h"

#include <cmath>

namespace fastvideo::testing {

Tensor randn(Shape shape, float stddev) {
  static std::mt19937_64 rng{std::random_device{}()};
  std::normal_distribution<float> dist(0.0f, stddev);
  Tensor t = Tensor::empty(std::move(shape), DType::F32);
  for (float& v : t.f32()) v = dist(rng);
  return t;
}

double rel_l2(const Tensor& a, const Tensor& b) {
  FV_CHECK(a.shape() == b.shape(), "rel_l2: ", a.describe(), " vs ", b.describe());
  Tensor ac = a.to(DType::F32).contiguous(), bc = b.to(DType::F32).contiguous();
  double num = 0, den = 0;
  auto pa = ac.f32(), pb = bc.f32();
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!std::isfinite(pa[i]) || !std::isfinite(pb[i])) return INFINITY;
    num += (double(pa[i]) - pb[i]) * (double(pa[i]) - pb[i]);
    den += double(pb[i]) * pb[i];
  }
  return den == 0 ? (num == 0 ? 0 : INFINITY) : std::sqrt(num / den);
}

std::string source_path(const std::string& relative) {
  return std::string(FV_SOURCE_DIR) + "/" + relative;
}

::testing::AssertionResult psnr_at_least(const VideoComparison& c, double min_mean_db,
                                         double min_worst_db) {
  const bool pass = c.mean_psnr >= min_mean_db && c.worst_psnr.value >= min_worst_db;
  return (pass ? ::testing::AssertionSuccess() : ::testing::AssertionFailure())
         << "PSNR over " << c.frames << " frames " << c.mean_psnr << " dB (min " << min_mean_db
         << "), worst frame " << c.worst_psnr.frame << " at " << c.worst_psnr.value << " dB (min "
         << min_worst_db << ")";
}

}  // namespace fastvideo::testing
