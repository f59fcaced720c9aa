// GEMM algorithm autotuning: what torch.compile's mode "max-autotune" asks for, done for cuBLASLt
// (issue 11). While a thread holds a GemmAutotuneScope, each new GEMM plan (shape, dtypes,
// epilogue, alignment) times cuBLASLt's candidate algorithms once on the call's own operands and
// keeps the fastest; other GEMMs take the heuristic's first choice. The timing runs on the first
// call of each shape, outside any CUDA graph capture (compile mode's eager first forward), and
// waits for the device there. Different algorithms sum in different orders, and which one is
// fastest can change between runs, so results are not bit-reproducible across processes.
#pragma once

namespace fastvideo::ops {

class GemmAutotuneScope {
 public:
  explicit GemmAutotuneScope(bool on);
  ~GemmAutotuneScope();
  GemmAutotuneScope(const GemmAutotuneScope&) = delete;
  GemmAutotuneScope& operator=(const GemmAutotuneScope&) = delete;

 private:
  bool previous_;
};

// Whether this thread's GEMMs autotune now (a scope opened inside an active one never turns it
// off).
bool gemm_autotune_active();

// Seconds this process has spent timing candidate algorithms (the one-time cost) and the plans it
// timed (those with more than one candidate), and the backend's way to add a plan's.
double gemm_autotune_seconds();
int gemm_autotuned_plans();
void record_gemm_autotune(double seconds);

}  // namespace fastvideo::ops
