#!/usr/bin/env python3
"""SageAttention2's own Hopper path (thu-ml/SageAttention: `sageattn_qk_int8_pv_fp8_cuda_sm90`,
what `sageattn` and FastVideo's SAGE_ATTN run on an H100/H200: per-thread INT8 Q/K with K
smoothing, FP8 V per channel, its sm90 kernel with fp32+fp32 accumulation), built here with
PyTorch's extension loader and timed at `fastvideo bench attention`'s shapes: the same-card anchor
for our SAGE_ATTN rows (issue 10). Nothing of SageAttention is in this repository; its sources are
read from the folder given (tools/bench/fetch_anchors.sh puts them in .anchors/, git-ignored). Its
quantization of Q and K is a Triton kernel, so Triton must be installed (PyTorch's wheels bring it).

    python3 tools/bench/sageattention_anchor.py --sageattention .anchors/SageAttention \
        [--json sageattention.json]

Times are the whole call, quantization included, as our SAGE_ATTN rows (pre-pass and kernel);
TFLOP/s are bf16-equivalent, 4 * B * H * Lq * Lk * D / time. q/k/v are [B, L, H, D] bf16
("NHD", our layout). Before timing, a small case is checked against attention in f32 (cosine
similarity), so a wrong build cannot pass as fast.
"""
import argparse
import os
import statistics
import sys

import torch
import torch.nn.functional as F
from anchor_harness import (add_run_args, build_extension, refuse_lost_build, report_json,
                            require_hopper, run_settings, time_runs)

# Keep in step with kShapes in bench/attention_bench.cpp (self-attention rows).
SHAPES = [
    ("self 1.3B 480p", 1, 12, 32760, 128),
    ("self 1.3B 480p CFG", 2, 12, 32760, 128),
    ("self 14B 720p", 1, 40, 75600, 128),
    ("self 28x28x52 whole tiles", 1, 16, 40768, 128),
]

# setup.py's flags for its sm90 and fused extensions, C++20 instead of 17 (PyTorch's headers need
# it; both compile so with nvcc 13.0 here).
NVCC_FLAGS = ["-O3", "-std=c++20", "-U__CUDA_NO_HALF_OPERATORS__", "-U__CUDA_NO_HALF_CONVERSIONS__",
              "--use_fast_math", "-diag-suppress=174"]
CXX_FLAGS = ["-O3", "-std=c++20", "-DENABLE_BF16"]


def load_sageattention(root):
    """Builds _qattn_sm90 and _fused from root/csrc and imports root/sageattention with them."""
    csrc = os.path.join(root, "csrc")
    qattn = build_extension("_qattn_sm90", [os.path.join(csrc, "qattn", "pybind_sm90.cpp"),
                                            os.path.join(csrc, "qattn", "qk_int_sv_f8_cuda_sm90.cu")],
                            cuda_flags=NVCC_FLAGS, cxx_flags=CXX_FLAGS, ldflags=["-lcuda"])
    fused = build_extension("_fused", [os.path.join(csrc, "fused", "pybind.cpp"),
                                       os.path.join(csrc, "fused", "fused.cu")],
                            cuda_flags=NVCC_FLAGS, cxx_flags=CXX_FLAGS)
    # `from . import _qattn_sm90` inside the package finds these (import falls back to sys.modules).
    sys.modules["sageattention._qattn_sm90"] = qattn
    sys.modules["sageattention._fused"] = fused
    sys.path.insert(0, root)
    import sageattention
    return sageattention


def cosine(a, b):
    return F.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0).item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sageattention", required=True,
                        help="a SageAttention checkout (sageattention/, csrc/)")
    add_run_args(parser)
    args = parser.parse_args()
    refuse_lost_build(args)
    require_hopper("sageattention_anchor: SageAttention's sm90 path")
    sage = load_sageattention(args.sageattention)
    if args.build_only:
        return
    torch.manual_seed(0)

    def run(q, k, v):
        return sage.sageattn_qk_int8_pv_fp8_cuda_sm90(
            q, k, v, tensor_layout="NHD", is_causal=False, qk_quant_gran="per_thread",
            pv_accum_dtype="fp32+fp32")

    q, k, v = (torch.randn(1, 1000, 3, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    want = F.scaled_dot_product_attention(*(t.float().transpose(1, 2) for t in (q, k, v)))
    check = cosine(run(q, k, v).float().transpose(1, 2), want)
    print(f"check against attention in f32: cosine similarity {check:.6f}")
    if not check >= 0.99:
        sys.exit(f"sageattention_anchor: SageAttention as built here is wrong (cosine {check:.6f})")
    rows = []
    for name, B, H, L, D in SHAPES:
        q, k, v = (torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        seconds = time_runs(lambda: run(q, k, v), args.warmup, args.repeats,
                            warmup_ms=args.warmup_ms)
        median = statistics.median(seconds)
        flop = 4.0 * B * H * L * L * D
        rows.append({"shape": name, "B": B, "H": H, "L": L, "D": D, "median_ms": median * 1e3,
                     "min_ms": min(seconds) * 1e3, "tflops": flop / median / 1e12})
        print(f"{name:22s} ({B},{H},{L},{D}): {median * 1e3:8.3f} ms "
              f"({flop / median / 1e12:6.1f} bf16-equivalent TFLOP/s)")
    report_json({"anchor": "SageAttention sageattn_qk_int8_pv_fp8_cuda_sm90",
                 "device": torch.cuda.get_device_name(), "check_cosine": check,
                 **run_settings(args),
                 "rows": rows},
                args.json)


if __name__ == "__main__":
    main()
