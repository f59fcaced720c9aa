// VMoBA's query_head selection on a GPU (vmoba_kernels.h): one CTA per (batch, head, query chunk)
// row of gates. The row's non-self entries are sorted in shared memory (bitonic, highest first,
// equal values in index order: the host's stable sort), then one thread walks them in that order
// with the host's double arithmetic (min–max normalisation, running sum, the crossing entry kept),
// so the kept chunks are the host's; the kept chunks become runs of consecutive key rows.
#include "core/cuda/cuda_check.h"
#include "fastvideo/error.h"
#include "ops/cuda/vmoba_kernels.h"

namespace fastvideo::ops::cuda {

namespace {

constexpr int kThreads = 256;
constexpr double kEps = 1e-6;  // FastVideo's epsilon, as ops::vmoba_select

struct SelectParams {
  const float* gates;
  int64_t ld;
  int N, P;         // chunks; the sort's power-of-two length (>= N − 1)
  bool threshold;   // else topk
  int keep_others;  // topk: the highest topk − 1 others
  double tau;
  const int32_t* key_offset;
  int R;
  int2* runs;
  int32_t* counts;
};

__global__ void vmoba_select_runs_kernel(const SelectParams p) {
  extern __shared__ double shared[];
  double* value = shared;                                               // [P] sort keys
  int32_t* index = reinterpret_cast<int32_t*>(value + p.P);             // [P] their chunks
  unsigned char* keep = reinterpret_cast<unsigned char*>(index + p.P);  // [N]
  __shared__ double lo_hi[2];
  const int64_t row = blockIdx.x;
  const int self = int(row % p.N);
  const float* g = p.gates + row * p.ld;

  // Min–max normalisation (threshold) as the host: lo, hi over the whole row, self included.
  if (threadIdx.x == 0) {
    float lo = g[0], hi = g[0];
    for (int j = 1; j < p.N; ++j) {
      lo = fminf(lo, g[j]);
      hi = fmaxf(hi, g[j]);
    }
    double d = double(hi) - double(lo);
    lo_hi[0] = lo;
    lo_hi[1] = d <= kEps ? 1.0 : d;
  }
  __syncthreads();
  const double lo = lo_hi[0], d = lo_hi[1];
  for (int j = threadIdx.x; j < p.P; j += kThreads) {
    const int chunk = j < self ? j : j + 1;  // the others, in index order
    const bool real = chunk < p.N && j < p.N - 1;
    value[j] = !real ? -INFINITY : p.threshold ? (double(g[chunk]) - lo) / d : double(g[chunk]);
    index[j] = real ? chunk : INT32_MAX;
  }
  for (int j = threadIdx.x; j < p.N; j += kThreads) keep[j] = j == self;
  __syncthreads();
  // Bitonic sort into rank order: a before b when its value is higher, or equal at a lower index.
  const auto before = [&](int a, int b) {
    return value[a] > value[b] || (value[a] == value[b] && index[a] < index[b]);
  };
  for (int size = 2; size <= p.P; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int t = threadIdx.x; t < p.P; t += kThreads) {
        const int u = t ^ stride;
        if (u <= t) continue;
        const bool rank_order = (t & size) == 0;
        if (before(u, t) == rank_order) {
          const double v = value[t];
          value[t] = value[u];
          value[u] = v;
          const int32_t i = index[t];
          index[t] = index[u];
          index[u] = i;
        }
      }
      __syncthreads();
    }
  }
  if (threadIdx.x == 0) {
    const int others = p.N - 1;
    if (p.threshold) {
      // The host's sums, in its order: the total over the row in index order, then the running
      // sum over the others in rank order up to and including the crossing entry.
      double total = 0;
      for (int j = 0; j < p.N; ++j) total += (double(g[j]) - lo) / d;
      const double self_n = (double(g[self]) - lo) / d;
      const double r = fmax(0.0, p.tau - self_n / (total + kEps));
      double running = 0;
      for (int i = 0; i < others; ++i) {
        if (index[i] >= p.N) continue;  // padding sorted among the others: NaN gates compare false
        keep[index[i]] = 1;
        running += value[i];
        if (running / (total + kEps) >= r) break;
      }
    } else {
      for (int i = 0; i < min(others, p.keep_others); ++i)
        if (index[i] < p.N) keep[index[i]] = 1;
    }
    // Runs of consecutive kept chunks, as key rows.
    int n = 0;
    int2* runs = p.runs + row * p.R;
    for (int j = 0; j < p.N; ++j) {
      if (!keep[j]) continue;
      if (j > 0 && keep[j - 1]) {
        runs[n - 1].y = p.key_offset[j + 1];
      } else {
        runs[n++] = make_int2(p.key_offset[j], p.key_offset[j + 1]);
      }
    }
    p.counts[row] = n;
  }
}

}  // namespace

bool vmoba_rule_on_device(const VmobaRule& rule, int64_t chunks) {
  return rule.type == VmobaThresholdType::QueryHead && chunks <= kVmobaRowMax &&
         (rule.mode == VmobaSelectMode::Threshold || rule.topk >= 2);
}

void vmoba_select_runs(const float* gates, int64_t ld, int64_t rows, int64_t N,
                       const VmobaRule& rule, const int32_t* key_offset, int64_t R, int32_t* runs,
                       int32_t* counts, cudaStream_t stream) {
  FV_CHECK(vmoba_rule_on_device(rule, N) && R >= (N + 1) / 2,
           "VMoBA selection on a GPU: query_head groups of at most ", kVmobaRowMax,
           " chunks with topk >= 2 or the threshold rule, and room for (N + 1) / 2 runs; got ", N,
           " chunks, ", R, " runs");
  SelectParams p{};
  p.gates = gates;
  p.ld = ld;
  p.N = int(N);
  p.P = 1;
  while (p.P < N - 1) p.P <<= 1;
  p.threshold = rule.mode == VmobaSelectMode::Threshold;
  p.keep_others = int(std::min<int64_t>(rule.topk - 1, N));
  p.tau = rule.threshold;
  p.key_offset = key_offset;
  p.R = int(R);
  p.runs = reinterpret_cast<int2*>(runs);
  p.counts = counts;
  const size_t smem = size_t(p.P) * (sizeof(double) + sizeof(int32_t)) + size_t(N);
  vmoba_select_runs_kernel<<<unsigned(rows), kThreads, smem, stream>>>(p);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
