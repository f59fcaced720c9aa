#!/usr/bin/env python3
"""PyTorch anchor for `fastvideo bench conv`: F.conv3d in bf16 on CUDA at the Wan2.1 VAE decoder's
convolution shapes of a steady 480x832 chunk (the same list as bench/conv_bench.cpp, with biases),
timed with CUDA events (median of --repeats after --warmup). Each shape runs channels-first (what
diffusers hands cuDNN) and channels-last (torch.channels_last_3d, our layout), with
torch.backends.cudnn.benchmark off and on; --kernels also names the GPU kernels PyTorch ran for the
channels-last, benchmarked case (torch.profiler). Prints JSON (also to --json FILE).
"""
import argparse
import statistics

import torch
import torch.nn.functional as F
from anchor_harness import report_json, time_runs

# name, calls per chunk, input T, H, W, C, output channels O, kernel kt, kh, kw ("same" padding in
# H and W, none in time: the cached frames are part of T), bias (the resnets' convs run without:
# our decoder adds their bias in the norm or residual add after them).
SHAPES = [
    ("conv_in", 1, 3, 60, 104, 16, 384, 3, 3, 3, True),
    ("mid, up0 resnets (384)", 10, 3, 60, 104, 384, 384, 3, 3, 3, False),
    ("up0 time_conv", 1, 3, 60, 104, 384, 768, 3, 1, 1, True),
    ("up0 resample", 1, 2, 120, 208, 384, 192, 1, 3, 3, True),
    ("up1 shortcut 192->384", 1, 2, 120, 208, 192, 384, 1, 1, 1, True),
    ("up1 conv1 192->384", 1, 4, 120, 208, 192, 384, 3, 3, 3, False),
    ("up1 resnets (384)", 5, 4, 120, 208, 384, 384, 3, 3, 3, False),
    ("up1 time_conv", 1, 4, 120, 208, 384, 768, 3, 1, 1, True),
    ("up1 resample", 1, 4, 240, 416, 384, 192, 1, 3, 3, True),
    ("up2 resnets (192)", 6, 6, 240, 416, 192, 192, 3, 3, 3, False),
    ("up2 resample", 1, 4, 480, 832, 192, 96, 1, 3, 3, True),
    ("up3 resnets (96)", 6, 6, 480, 832, 96, 96, 3, 3, 3, False),
    ("conv_out", 1, 6, 480, 832, 96, 3, 3, 3, 3, True),
]


def kernel_names(fn):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    events = sorted(prof.key_averages(), key=lambda e: -e.device_time_total)
    return [e.key[:160] for e in events[:2]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--kernels", action="store_true", help="name the kernels (torch.profiler)")
    parser.add_argument("--json", help="also write the JSON here")
    args = parser.parse_args()
    device = torch.device("cuda")
    out = {"device": torch.cuda.get_device_name(device), "torch": torch.__version__,
           "cudnn": torch.backends.cudnn.version(),
           "op": "torch.nn.functional.conv3d (bf16, with the bias where our decoder adds it)", "repeats": args.repeats, "shapes": []}
    totals = {}
    with torch.inference_mode():
        for name, count, t, h, w, c, o, kt, kh, kw, has_bias in SHAPES:
            x = torch.randn(1, c, t, h, w, device=device, dtype=torch.bfloat16)
            wt = torch.randn(o, c, kt, kh, kw, device=device, dtype=torch.bfloat16)
            wt *= (c * kt * kh * kw) ** -0.5
            b = torch.randn(o, device=device, dtype=torch.bfloat16) if has_bias else None
            pad = (0, (kh - 1) // 2, (kw - 1) // 2)
            flop = 2.0 * o * c * kt * kh * kw * (t - kt + 1) * h * w
            row = {"name": name, "per_chunk": count, "input_tchw": [t, c, h, w]}
            for layout, fmt in (("channels_first", torch.contiguous_format),
                                ("channels_last", torch.channels_last_3d)):
                xl, wl = x.contiguous(memory_format=fmt), wt.contiguous(memory_format=fmt)
                for bench in (False, True):
                    torch.backends.cudnn.benchmark = bench
                    key = f"{layout}{'_benchmark' if bench else ''}"
                    ms = statistics.median(time_runs(lambda: F.conv3d(xl, wl, b, padding=pad),
                                                     args.warmup, args.repeats)) * 1e3
                    row[key + "_ms"] = ms
                    row[key + "_tflops"] = flop / (ms * 1e-3) / 1e12
                    totals[key] = totals.get(key, 0.0) + ms * count
                if args.kernels and layout == "channels_last":
                    row["channels_last_benchmark_kernels"] = kernel_names(
                        lambda: F.conv3d(xl, wl, b, padding=pad))
            out["shapes"].append(row)
            print(f"{name:24s} " + "  ".join(
                f"{k}: {row[k + '_ms']:.3f} ms" for k in totals), flush=True)
            del x, wt, b
            torch.cuda.empty_cache()
    out["chunk_ms"] = totals
    report_json(out, args.json)


if __name__ == "__main__":
    main()
