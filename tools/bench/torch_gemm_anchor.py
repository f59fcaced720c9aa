#!/usr/bin/env python3
"""PyTorch anchor for `fastvideo bench gemm`: F.linear in bf16 on CUDA, same shapes, bias included.

Times each shape with CUDA events (median of --repeats after --warmup untimed runs), the same way
bench/gemm_bench.cpp times ops::linear, and prints JSON (also to --json FILE).

For the FFN-up shape two numbers are given: `median_ms` is what diffusers runs (F.linear, then
F.gelu(approximate="tanh") as a second kernel), `fused_median_ms` is torch._addmm_activation with
use_gelu=True, PyTorch's own cuBLASLt GELU_BIAS epilogue, the like-for-like anchor for our fused op.
"""
import argparse
import statistics

import torch
from anchor_harness import report_json, time_runs
import torch.nn.functional as F

# M x N x K of y[M, N] = x[M, K] @ W[N, K]^T + b[N]; Wan2.1-1.3B at 480p (32760 tokens).
SHAPES = [
    ("self/cross-attn q, k, v, o", 32760, 1536, 1536, False),
    ("ffn up + gelu", 32760, 8960, 1536, True),
    ("ffn down", 32760, 1536, 8960, False),
    ("cross-attn text k, v", 512, 1536, 1536, False),
    ("square 8192", 8192, 8192, 8192, False),
]


def median_ms(fn, repeats, warmup):
    return statistics.median(time_runs(fn, warmup, repeats)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", help="also write the JSON here")
    args = parser.parse_args()
    if args.repeats < 20:
        parser.error("--repeats must be at least 20")
    device = torch.device("cuda")
    dtype = torch.bfloat16
    out = {
        "device": torch.cuda.get_device_name(device),
        "op": "torch.nn.functional.linear (bf16, bias)",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "allow_bf16_reduced_precision_reduction":
            torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction,
        "dtype": "bf16",
        "repeats": args.repeats,
        "warmup": args.warmup,
        "shapes": [],
    }
    with torch.inference_mode():
        for name, m, n, k, gelu in SHAPES:
            x = torch.rand(m, k, device=device, dtype=dtype) * 2 - 1
            w = (torch.rand(n, k, device=device, dtype=dtype) * 2 - 1) * k**-0.5
            b = (torch.rand(n, device=device, dtype=dtype) * 2 - 1) * 0.5
            if gelu:
                ms = median_ms(lambda: F.gelu(F.linear(x, w, b), approximate="tanh"),
                               args.repeats, args.warmup)
            else:
                ms = median_ms(lambda: F.linear(x, w, b), args.repeats, args.warmup)
            flop = 2.0 * m * n * k
            row = {"name": name, "m": m, "n": n, "k": k, "bias": True, "gelu": gelu,
                   "median_ms": ms, "tflops": flop / (ms * 1e-3) / 1e12}
            if gelu:
                wt = w.t()
                fused = median_ms(lambda: torch._addmm_activation(b, x, wt, use_gelu=True),
                                  args.repeats, args.warmup)
                row["fused_median_ms"] = fused
                row["fused_tflops"] = flop / (fused * 1e-3) / 1e12
            out["shapes"].append(row)
            del x, w, b
            torch.cuda.empty_cache()
    report_json(out, args.json)


if __name__ == "__main__":
    main()
