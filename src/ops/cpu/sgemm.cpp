#include "ops/cpu/sgemm.h"

#ifdef FASTVIDEO_HAVE_BLAS
#include <cblas.h>
#else
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#endif

namespace fastvideo::ops {

#ifdef FASTVIDEO_HAVE_BLAS

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#else

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  // Rows of C in parallel; B is packed as [k, n] once so the inner loop runs over contiguous j.
  std::vector<float> bt;
  const float* bp = b;
  int ldbp = ldb;
  if (trans_b) {
    bt.resize(size_t(k) * n);
    for (int j = 0; j < n; ++j)
      for (int p = 0; p < k; ++p) bt[size_t(p) * n + j] = b[size_t(j) * ldb + p];
    bp = bt.data();
    ldbp = n;
  }
  parallel_for(m, 4, [&](int64_t i0, int64_t i1) {
    std::vector<float> acc(static_cast<size_t>(n));
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int p = 0; p < k; ++p) {
        const float av = trans_a ? a[size_t(p) * lda + i] : a[size_t(i) * lda + p];
        const float* brow = bp + size_t(p) * ldbp;
        for (int j = 0; j < n; ++j) acc[size_t(j)] += av * brow[j];
      }
      float* crow = c + size_t(i) * ldc;
      for (int j = 0; j < n; ++j)
        crow[j] = alpha * acc[size_t(j)] + (beta == 0.0f ? 0.0f : beta * crow[j]);
    }
  });
}

#endif

}  // namespace fastvideo::ops
