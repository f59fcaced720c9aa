// Row-major C = alpha·op(A)·op(B) + beta·C for every CPU op. OpenBLAS when the build found it;
// otherwise a blocked fallback of our own (the GPU machine has no BLAS, and there the CPU results
// serve only as test references, so simple and correct beats fast).
#pragma once

namespace fastvideo::ops {

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace fastvideo::ops
