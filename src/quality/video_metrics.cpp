#include "quality/video_metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/parallel.h"
#include "fastvideo/error.h"
#include "fastvideo/log.h"
#include "io/video_reader.h"

namespace fastvideo {
namespace {

constexpr int kWindow = 11;
constexpr double kSigma = 1.5, kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03;  // (K·data_range)², range 1
constexpr std::array<double, 5> kScaleWeights = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

// One colour channel as doubles in [0, 1].
struct Plane {
  int height = 0, width = 0;
  std::vector<double> v;
  double& at(int y, int x) { return v[size_t(y) * width + x]; }
  double at(int y, int x) const { return v[size_t(y) * width + x]; }
};

std::array<Plane, 3> to_planes(std::span<const uint8_t> rgb, int height, int width) {
  std::array<Plane, 3> planes;
  for (int c = 0; c < 3; ++c) {
    planes[c] = {height, width, std::vector<double>(size_t(height) * width)};
    for (size_t i = 0; i < planes[c].v.size(); ++i) planes[c].v[i] = rgb[3 * i + c] / 255.0;
  }
  return planes;
}

std::array<double, kWindow> gaussian_window() {
  std::array<double, kWindow> g;
  for (int i = 0; i < kWindow; ++i) {
    const double d = i - kWindow / 2;
    g[i] = std::exp(-d * d / (2 * kSigma * kSigma));
  }
  const double sum = std::accumulate(g.begin(), g.end(), 0.0);
  for (double& x : g) x /= sum;
  return g;
}

// Separable Gaussian blur without padding; a side shorter than the window is not blurred
// (pytorch_msssim's gaussian_filter skips that dimension with a warning).
Plane gaussian_filter(const Plane& in) {
  static const std::array<double, kWindow> g = gaussian_window();
  Plane out = in;
  if (out.height >= kWindow) {
    Plane next{out.height - kWindow + 1, out.width, {}};
    next.v.assign(size_t(next.height) * next.width, 0.0);
    for (int y = 0; y < next.height; ++y)
      for (int k = 0; k < kWindow; ++k)
        for (int x = 0; x < next.width; ++x) next.at(y, x) += g[k] * out.at(y + k, x);
    out = std::move(next);
  }
  if (out.width >= kWindow) {
    Plane next{out.height, out.width - kWindow + 1, {}};
    next.v.assign(size_t(next.height) * next.width, 0.0);
    for (int y = 0; y < next.height; ++y)
      for (int x = 0; x < next.width; ++x) {
        double s = 0;
        for (int k = 0; k < kWindow; ++k) s += g[k] * out.at(y, x + k);
        next.at(y, x) = s;
      }
    out = std::move(next);
  }
  return out;
}

Plane product(const Plane& a, const Plane& b) {
  Plane p{a.height, a.width, std::vector<double>(a.v.size())};
  for (size_t i = 0; i < p.v.size(); ++i) p.v[i] = a.v[i] * b.v[i];
  return p;
}

struct SsimTerms {
  double ssim = 0;  // mean of the SSIM map
  double cs = 0;    // mean of the contrast-structure map
};

SsimTerms ssim_terms(const Plane& x, const Plane& y) {
  const Plane mu1 = gaussian_filter(x), mu2 = gaussian_filter(y);
  const Plane xx = gaussian_filter(product(x, x)), yy = gaussian_filter(product(y, y)),
              xy = gaussian_filter(product(x, y));
  double ssim_sum = 0, cs_sum = 0;
  for (size_t i = 0; i < mu1.v.size(); ++i) {
    const double m1 = mu1.v[i], m2 = mu2.v[i];
    const double s1 = xx.v[i] - m1 * m1, s2 = yy.v[i] - m2 * m2, s12 = xy.v[i] - m1 * m2;
    const double cs = (2 * s12 + kC2) / (s1 + s2 + kC2);
    cs_sum += cs;
    ssim_sum += (2 * m1 * m2 + kC1) / (m1 * m1 + m2 * m2 + kC1) * cs;
  }
  const double n = double(mu1.v.size());
  return {ssim_sum / n, cs_sum / n};
}

// F.avg_pool2d(kernel 2, stride 2, padding = side % 2) with count_include_pad: an odd side gets
// one zero on each end and every output is the sum of its 2×2 window over 4.
Plane average_pool(const Plane& in) {
  const int ph = in.height % 2, pw = in.width % 2;
  Plane out{(in.height + 2 * ph - 2) / 2 + 1, (in.width + 2 * pw - 2) / 2 + 1, {}};
  out.v.assign(size_t(out.height) * out.width, 0.0);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      double s = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const int iy = 2 * y - ph + dy, ix = 2 * x - pw + dx;
          if (iy >= 0 && iy < in.height && ix >= 0 && ix < in.width) s += in.at(iy, ix);
        }
      out.at(y, x) = s / 4;
    }
  return out;
}

void check_frames(std::span<const uint8_t> a, std::span<const uint8_t> b, int height, int width) {
  FV_CHECK(height > 0 && width > 0, "frame size must be positive, got ", width, "x", height);
  const size_t expected = size_t(height) * width * 3;
  FV_CHECK(a.size() == expected && b.size() == expected, "frames hold ", a.size(), " and ",
           b.size(), " bytes, expected ", width, "x", height, "x3 = ", expected);
}

double mean(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

VideoComparison::WorstFrame worst_frame(const std::vector<double>& scores) {
  const auto lowest = std::min_element(scores.begin(), scores.end());
  return {int(lowest - scores.begin()), *lowest};
}

}  // namespace

double frame_mse(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  FV_CHECK(a.size() == b.size() && !a.empty(), "MSE needs two equally sized non-empty frames, got ",
           a.size(), " and ", b.size(), " bytes");
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = double(a[i]) - double(b[i]);
    sum += d * d;
  }
  return sum / double(a.size());
}

double psnr_from_mse(double mse) {
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

double frame_ssim(std::span<const uint8_t> a, std::span<const uint8_t> b, int height, int width) {
  check_frames(a, b, height, width);
  const auto x = to_planes(a, height, width), y = to_planes(b, height, width);
  double sum = 0;
  for (int c = 0; c < 3; ++c) sum += ssim_terms(x[c], y[c]).ssim;
  return sum / 3;
}

double frame_ms_ssim(std::span<const uint8_t> a, std::span<const uint8_t> b, int height,
                     int width) {
  check_frames(a, b, height, width);
  FV_CHECK(std::min(height, width) >= kMsSsimMinSide, "MS-SSIM needs frames of at least ",
           kMsSsimMinSide, " pixels on the shorter side (5 scales of an 11-tap window), got ",
           width, "x", height);
  auto x = to_planes(a, height, width), y = to_planes(b, height, width);
  double sum = 0;
  for (int c = 0; c < 3; ++c) {
    Plane xc = std::move(x[c]), yc = std::move(y[c]);
    double value = 1;
    for (size_t level = 0; level < kScaleWeights.size(); ++level) {
      const SsimTerms t = ssim_terms(xc, yc);
      const bool last = level + 1 == kScaleWeights.size();
      value *= std::pow(std::max(last ? t.ssim : t.cs, 0.0), kScaleWeights[level]);
      if (!last) {
        xc = average_pool(xc);
        yc = average_pool(yc);
      }
    }
    sum += value;
  }
  return sum / 3;
}

VideoComparison compare_videos(const Video& a, const Video& b) {
  FV_CHECK(a.height == b.height && a.width == b.width,
           "cannot compare videos of different frame sizes: ", a.width, "x", a.height, " and ",
           b.width, "x", b.height);
  FV_CHECK(a.frames > 0 && b.frames > 0, "cannot compare an empty video (", a.frames, " and ",
           b.frames, " frames)");
  for (const Video* v : {&a, &b})
    FV_CHECK(v->rgb.size() == size_t(v->frames) * v->height * v->width * 3, "video holds ",
             v->rgb.size(), " bytes, expected ", v->frames, "x", v->height, "x", v->width, "x3");
  VideoComparison r;
  r.frames = std::min(a.frames, b.frames);
  r.frames_a = a.frames;
  r.frames_b = b.frames;
  r.fps_a = a.fps;
  r.fps_b = b.fps;
  if (a.frames != b.frames)
    log::warning("comparing the first ", r.frames, " frames: the videos have ", a.frames, " and ",
                 b.frames, " frames");
  const bool with_ms_ssim = std::min(a.height, a.width) >= kMsSsimMinSide;
  if (!with_ms_ssim)
    r.ms_ssim_skipped = str_cat("frames of ", a.width, "x", a.height,
                                " are smaller than MS-SSIM's minimum side of ", kMsSsimMinSide);
  std::vector<double> mse(r.frames);
  r.psnr.resize(r.frames);
  r.ssim.resize(r.frames);
  r.ms_ssim.resize(with_ms_ssim ? r.frames : 0);
  const size_t bytes = size_t(a.height) * a.width * 3;
  parallel_for(r.frames, 1, [&](int64_t begin, int64_t end) {
    for (int64_t f = begin; f < end; ++f) {
      const std::span<const uint8_t> fa(a.frame(int(f)), bytes), fb(b.frame(int(f)), bytes);
      mse[f] = frame_mse(fa, fb);
      r.psnr[f] = psnr_from_mse(mse[f]);
      r.ssim[f] = frame_ssim(fa, fb, a.height, a.width);
      if (with_ms_ssim) r.ms_ssim[f] = frame_ms_ssim(fa, fb, a.height, a.width);
    }
  });
  r.mean_psnr = psnr_from_mse(mean(mse));
  r.mean_ssim = mean(r.ssim);
  r.worst_psnr = worst_frame(r.psnr);
  r.worst_ssim = worst_frame(r.ssim);
  if (with_ms_ssim) {
    r.mean_ms_ssim = mean(r.ms_ssim);
    r.worst_ms_ssim = worst_frame(r.ms_ssim);
  } else {
    r.mean_ms_ssim = std::numeric_limits<double>::quiet_NaN();
  }
  return r;
}

VideoComparison compare_video_files(const std::filesystem::path& a,
                                    const std::filesystem::path& b) {
  const Video va = read_video(a), vb = read_video(b);
  try {
    return compare_videos(va, vb);
  } catch (const Error& e) {
    e.rethrow_with_context(str_cat(a.string(), " and ", b.string()));
  }
}

}  // namespace fastvideo
