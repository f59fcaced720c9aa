#!/usr/bin/env python3
"""The anchor for `fastvideo bench attention`: PyTorch's scaled_dot_product_attention on the same
shapes, through the cuDNN backend and the flash backend (torch.nn.attention.sdpa_kernel), timed the
same way (CUDA events, median of the timed repeats after warm-up). Prints JSON.

Run it in the same call, on the same card, as `fastvideo bench attention --json ...`:
    python3 tools/bench/torch_attention_anchor.py --json torch_attention.json

q/k/v are [B, L, H, D] BF16 tensors viewed as [B, H, L, D] (FastVideo's layout: the transpose is a
view, as in our engine), scale 1/sqrt(D). TFLOP/s = 4·B·H·Lq·Lk·D / time.
"""
import argparse
import json
import math
import sys

import torch
from anchor_harness import add_warmup_ms_arg, report_json, time_runs
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# Keep in step with kShapes in bench/attention_bench.cpp.
SHAPES = [
    ("self 1.3B 480p", 1, 12, 32760, 32760, 128),
    ("self 1.3B 480p CFG", 2, 12, 32760, 32760, 128),
    ("self 14B 720p", 1, 40, 75600, 75600, 128),
    ("cross 1.3B 480p", 1, 12, 32760, 512, 128),
]

BACKENDS = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}


def bench_one(backend, B, H, Lq, Lk, D, warmup, repeats, warmup_ms):
    gen = torch.Generator(device="cuda").manual_seed(0)

    def rand(L):
        return torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16, generator=gen).transpose(1, 2)

    q, k, v = rand(Lq), rand(Lk), rand(Lk)
    scale = 1.0 / math.sqrt(D)
    with sdpa_kernel([backend]):
        times = [t * 1e3 for t in time_runs(
            lambda: F.scaled_dot_product_attention(q, k, v, scale=scale), warmup, repeats,
            warmup_ms=warmup_ms)]
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    add_warmup_ms_arg(parser)
    parser.add_argument("--backends", default="cudnn,flash", help="comma-separated: cudnn, flash")
    parser.add_argument("--json", help="also write the JSON here")
    args = parser.parse_args()

    out = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "warmup": args.warmup,
        "repeats": args.repeats,
        "warmup_ms": args.warmup_ms,
        "shapes": [],
    }
    for label, B, H, Lq, Lk, D in SHAPES:
        for name in args.backends.split(","):
            row = {"label": label, "B": B, "H": H, "Lq": Lq, "Lk": Lk, "D": D, "backend": name}
            try:
                median, best = bench_one(BACKENDS[name], B, H, Lq, Lk, D, args.warmup,
                                         args.repeats, args.warmup_ms)
                flop = 4.0 * B * H * Lq * Lk * D
                row.update(median_ms=median, min_ms=best, tflops=flop / (median * 1e-3) / 1e12)
            except RuntimeError as e:  # a backend that does not take the shape says so
                row["error"] = str(e).splitlines()[0]
            out["shapes"].append(row)
            print(json.dumps(row), file=sys.stderr)
            torch.cuda.empty_cache()
    report_json(out, args.json)


if __name__ == "__main__":
    main()
