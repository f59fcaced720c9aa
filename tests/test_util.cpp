#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <vector>

namespace fastvideo::testing {

Tensor randn(Shape shape, float stddev) {
  static std::mt19937_64 rng{std::random_device{}()};
  std::normal_distribution<float> dist(0.0f, stddev);
  Tensor t = Tensor::empty(std::move(shape), DType::F32);
  for (float& v : t.f32()) v = dist(rng);
  return t;
}

double cosine(const Tensor& a, const Tensor& b) {
  FV_CHECK(a.shape() == b.shape(), "cosine: ", a.describe(), " vs ", b.describe());
  const Tensor ac = a.to(DType::F32).contiguous(), bc = b.to(DType::F32).contiguous();
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < ac.numel(); ++i) {
    const double x = ac.data<float>()[i], y = bc.data<float>()[i];
    ab += x * y, aa += x * x, bb += y * y;
  }
  return ab / std::sqrt(aa * bb);
}

Tensor randn_with_channel_offsets(Shape shape) {
  FV_CHECK(shape.size() == 4, "randn_with_channel_offsets: [B, S, H, D], got ", shape_str(shape));
  const int64_t row = shape[2] * shape[3];
  Tensor x = randn(std::move(shape));
  const Tensor offset = randn({row});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += offset.data<float>()[i % row];
  return x;
}

Tensor final_latents(const GenerationResult& result) {
  return Tensor::from_vector(result.final_latents, result.latent_shape);
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

Tensor reference_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, float scale,
                           const Tensor& bias_in) {
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t Sk = k.size(1), Dv = v.size(3);
  Tensor out = Tensor::empty({B, Sq, H, Dv}, DType::F32);
  const auto pq = q.f32(), pk = k.f32(), pv = v.f32(), po = out.f32();
  const auto pb = bias.defined() ? bias.f32() : std::span<float>();
  std::vector<double> p(static_cast<size_t>(Sk));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < Sq; ++i) {
        double max = -INFINITY, sum = 0;
        for (int64_t j = 0; j < Sk; ++j) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d) {
            s += double(pq[size_t(((b * Sq + i) * H + h) * D + d)]) *
                 pk[size_t(((b * Sk + j) * H + h) * D + d)];
          }
          s *= scale;
          if (!pb.empty()) s += pb[size_t((h * Sq + i) * Sk + j)];
          p[size_t(j)] = s;
          max = std::max(max, s);
        }
        for (double& e : p) sum += (e = std::exp(e - max));
        for (int64_t e = 0; e < Dv; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < Sk; ++j)
            acc += p[size_t(j)] * pv[size_t(((b * Sk + j) * H + h) * Dv + e)];
          po[size_t(((b * Sq + i) * H + h) * Dv + e)] = float(acc / sum);
        }
      }
    }
  }
  return out;
}

std::string source_path(const std::string& relative) {
  return std::string(FV_SOURCE_DIR) + "/" + relative;
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
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
