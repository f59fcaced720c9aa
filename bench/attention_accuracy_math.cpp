#include "attention_accuracy_math.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "fastvideo/error.h"

namespace fastvideo::bench {

namespace {

void check_host_f32(const Tensor& t, const char* what) {
  FV_CHECK(t.ndim() == 4 && t.dtype() == DType::F32 && t.device().is_cpu() && t.is_contiguous(),
           "attention accuracy: ", what, " must be a contiguous f32 CPU [B, S, H, D], got ",
           t.describe());
}

void check_rows(std::span<const int64_t> rows, int64_t total) {
  for (int64_t r : rows)
    FV_CHECK(r >= 0 && r < total, "attention accuracy: row ", r, " is outside [0, ", total, ")");
}

// Σ a[d]·b[d] in double over four interleaved partial sums (fixed order, so deterministic): four
// independent dependency chains instead of one make the reference about 3× faster.
double dot(const double* a, const float* b, int64_t n) {
  double s[4] = {0, 0, 0, 0};
  int64_t d = 0;
  for (; d + 4 <= n; d += 4)
    for (int u = 0; u < 4; ++u) s[u] += a[d + u] * double(b[d + u]);
  for (; d < n; ++d) s[0] += a[d] * double(b[d]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

std::vector<int64_t> evenly_spaced_rows(int64_t total, int64_t count) {
  FV_CHECK(total > 0 && count > 0, "evenly_spaced_rows: ", count, " of ", total,
           " rows; both must be positive");
  std::vector<int64_t> rows;
  if (count >= total) {
    for (int64_t r = 0; r < total; ++r) rows.push_back(r);
    return rows;
  }
  // Consecutive values (2i + 1)·total / (2·count) are total / count ≥ 1 apart, so their floors
  // are distinct; the last is below total.
  for (int64_t i = 0; i < count; ++i) rows.push_back((2 * i + 1) * total / (2 * count));
  return rows;
}

std::vector<double> reference_attention_rows(const Tensor& q, const Tensor& k, const Tensor& v,
                                             float scale, std::span<const int64_t> rows) {
  check_host_f32(q, "q");
  check_host_f32(k, "k");
  check_host_f32(v, "v");
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t Sk = k.size(1), Dv = v.size(3), R = int64_t(rows.size());
  FV_CHECK(k.size(0) == B && v.size(0) == B && k.size(2) == H && v.size(2) == H && k.size(3) == D &&
               v.size(1) == Sk && Sk > 0,
           "attention accuracy: q ", q.describe(), ", k ", k.describe(), ", v ", v.describe(),
           " are not q [B, Sq, H, D], k [B, Sk, H, D], v [B, Sk, H, Dv]");
  check_rows(rows, Sq);
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  const double s = scale;

  // One task per (batch, head, block of up to kRowBlock sampled rows): the block's scores against
  // every key first (each key row read once for all rows of the block), then max, exponentials
  // and sum per row, then the weighted sum of v (each value row read once).
  constexpr int64_t kRowBlock = 16;
  const int64_t row_blocks = (R + kRowBlock - 1) / kRowBlock;
  std::vector<double> out(size_t(B * R * H * Dv));
  parallel_for(B * H * row_blocks, 1, [&](int64_t t0, int64_t t1) {
    std::vector<double> qd(size_t(kRowBlock * D)), p(size_t(kRowBlock * Sk)),
        acc(size_t(kRowBlock * Dv));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t rb = t % row_blocks, h = (t / row_blocks) % H, b = t / (row_blocks * H);
      const int64_t r0 = rb * kRowBlock, n = std::min(kRowBlock, R - r0);
      for (int64_t i = 0; i < n; ++i) {
        const float* qi = qp + ((b * Sq + rows[size_t(r0 + i)]) * H + h) * D;
        for (int64_t d = 0; d < D; ++d) qd[size_t(i * D + d)] = qi[d];
      }
      for (int64_t j = 0; j < Sk; ++j) {
        const float* kj = kp + ((b * Sk + j) * H + h) * D;
        for (int64_t i = 0; i < n; ++i) {
          p[size_t(i * Sk + j)] = dot(qd.data() + i * D, kj, D) * s;
        }
      }
      std::vector<double> sums(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        double* pi = p.data() + i * Sk;
        const double m = *std::max_element(pi, pi + Sk);
        double sum = 0;
        for (int64_t j = 0; j < Sk; ++j) sum += (pi[j] = std::exp(pi[j] - m));
        sums[size_t(i)] = sum;
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < Sk; ++j) {
        const float* vj = vp + ((b * Sk + j) * H + h) * Dv;
        for (int64_t i = 0; i < n; ++i) {
          const double pij = p[size_t(i * Sk + j)];
          double* ai = acc.data() + i * Dv;
          for (int64_t c = 0; c < Dv; ++c) ai[c] += pij * double(vj[c]);
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        double* o = out.data() + ((b * R + r0 + i) * H + h) * Dv;
        for (int64_t c = 0; c < Dv; ++c) o[c] = acc[size_t(i * Dv + c)] / sums[size_t(i)];
      }
    }
  });
  return out;
}

std::vector<double> gather_rows(const Tensor& out, std::span<const int64_t> rows) {
  check_host_f32(out, "the output");
  const int64_t B = out.size(0), S = out.size(1), row = out.size(2) * out.size(3);
  check_rows(rows, S);
  const float* p = out.data<float>();
  std::vector<double> got;
  got.reserve(size_t(B * int64_t(rows.size()) * row));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r : rows) {
      const float* src = p + (b * S + r) * row;
      got.insert(got.end(), src, src + row);
    }
  return got;
}

NonFiniteCount count_non_finite(const Tensor& t) {
  FV_CHECK(t.dtype() == DType::F32 && t.device().is_cpu() && t.is_contiguous(),
           "count_non_finite: needs a contiguous f32 CPU tensor, got ", t.describe());
  NonFiniteCount n;
  for (float x : std::span<const float>(t.data<float>(), size_t(t.numel()))) {
    if (std::isnan(x)) ++n.nan;
    if (std::isinf(x)) ++n.inf;
  }
  return n;
}

AccuracyMetrics compare_rows(std::span<const double> got, std::span<const double> reference,
                             int64_t heads, int64_t head_dim) {
  FV_CHECK(got.size() == reference.size() && heads > 0 && head_dim > 0 &&
               got.size() % size_t(heads * head_dim) == 0,
           "compare_rows: ", got.size(), " values against ", reference.size(), " (", heads,
           " heads of ", head_dim, ")");
  std::vector<double> head_diff(static_cast<size_t>(heads)), head_ref(static_cast<size_t>(heads));
  double dot = 0, got2 = 0, ref2 = 0, diff2 = 0;
  for (size_t e = 0; e < got.size(); ++e) {
    const double a = got[e], b = reference[e], d = a - b;
    const size_t h = (e / size_t(head_dim)) % size_t(heads);
    dot += a * b, got2 += a * a, ref2 += b * b, diff2 += d * d;
    head_diff[h] += d * d, head_ref[h] += b * b;
  }
  AccuracyMetrics m;
  m.cosine = dot / std::sqrt(got2 * ref2);
  m.rel_l2 = std::sqrt(diff2 / ref2);
  for (size_t h = 0; h < size_t(heads); ++h) {
    const double r = std::sqrt(head_diff[h] / head_ref[h]);
    // NaN sticks: once worst is NaN no comparison replaces it.
    if (std::isnan(r) || r > m.worst_head_rel_l2) m.worst_head_rel_l2 = r;
  }
  return m;
}

bool meets_accuracy_bar(const AccuracyMetrics& m, const NonFiniteCount& non_finite) {
  return non_finite.total() == 0 && m.cosine >= kAccuracyMinCosine && m.rel_l2 <= kAccuracyMaxRelL2;
}

double standard_deviation(const Tensor& t) {
  FV_CHECK(t.dtype() == DType::F32 && t.device().is_cpu() && t.is_contiguous() && t.numel() > 0,
           "standard_deviation: needs a non-empty contiguous f32 CPU tensor, got ", t.describe());
  const std::span<const float> x(t.data<float>(), size_t(t.numel()));
  double sum = 0;
  for (float e : x) sum += e;
  const double mean = sum / double(x.size());
  double sq = 0;
  for (float e : x) sq += (e - mean) * (e - mean);
  return std::sqrt(sq / double(x.size()));
}

Tensor with_key_channel_outlier(const Tensor& k) {
  check_host_f32(k, "k");
  const int64_t D = k.size(3);
  FV_CHECK(kKeyOutlierChannel < D, "with_key_channel_outlier: k ", k.describe(), " has no channel ",
           kKeyOutlierChannel);
  const float bias = float(kKeyOutlierStds * standard_deviation(k));
  Tensor out = k.clone();
  float* p = out.data<float>();
  for (int64_t row = 0; row < out.numel() / D; ++row) p[row * D + kKeyOutlierChannel] += bias;
  return out.to(DType::BF16).to(DType::F32);
}

Tensor scaled_bf16(const Tensor& t, float factor) {
  FV_CHECK(t.dtype() == DType::F32 && t.device().is_cpu() && t.is_contiguous(),
           "scaled_bf16: needs a contiguous f32 CPU tensor, got ", t.describe());
  Tensor out = t.clone();
  for (float& x : out.f32()) x *= factor;
  return out.to(DType::BF16).to(DType::F32);
}

}  // namespace fastvideo::bench
