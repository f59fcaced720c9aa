#!/usr/bin/env python3
"""Prints one table of ours vs the PyTorch anchor from the JSON files scripts/gpu-bench.sh writes
(same card, same call). Usage: python3 tools/bench/summary.py DIR"""
import json
import os
import sys


def load(d, name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def row(what, ours, anchor, unit, lower_is_better=True):
    if ours is None or anchor is None:
        print(f"{what:44s} {fmt(ours):>10s} {fmt(anchor):>10s} {unit:8s}   (missing)")
        return
    ratio = ours / anchor
    print(f"{what:44s} {ours:10.4g} {anchor:10.4g} {unit:8s} {ratio:7.3f}x"
          f"{'  (time: lower is better)' if lower_is_better else '  (rate: higher is better)'}")


def fmt(v):
    return "-" if v is None else f"{v:.4g}"


def main():
    d = sys.argv[1]
    print(f"{'benchmark':44s} {'ours':>10s} {'anchor':>10s} {'unit':8s} {'ours/anchor':>8s}")
    gemm, tgemm = load(d, "gemm.json"), load(d, "torch_gemm.json")
    if gemm and tgemm:
        anchors = {s["name"]: s for s in tgemm["shapes"]}
        for s in gemm["shapes"]:
            a = anchors.get(s["name"], {})
            rate = a.get("fused_tflops", a.get("tflops"))
            row(f"GEMM {s['name']}", s.get("tflops"), rate, "TFLOP/s", False)
    att, tatt = load(d, "attention.json"), load(d, "torch_attention.json")
    if att and tatt:
        for s in att["shapes"]:
            for a in tatt["shapes"]:
                if a["label"] == s["label"] and "tflops" in a:
                    row(f"attn {s['label']} vs torch {a['backend']}", s.get("tflops"),
                        a["tflops"], "TFLOP/s", False)
    dit, tdit = load(d, "dit.json"), load(d, "torch_dit.json")
    if dit and tdit:
        for name, v in tdit.get("variants", {}).items():
            row(f"DiT 1.3B forward vs torch {name}", dit.get("median_seconds"),
                v["median_seconds"], "s")
        print(f"{'  peak device memory (ours)':44s} {dit.get('peak_device_bytes', 0) / 2**30:10.2f} GiB")
    vae, tvae = load(d, "vae.json"), load(d, "torch_vae.json")
    if vae and tvae:
        row("VAE decode 21x60x104", vae.get("seconds_median"), tvae.get("seconds_median"), "s")
        row("VAE peak device memory", vae.get("peak_device_bytes", 0) / 2**30,
            (tvae.get("peak_device_bytes") or 0) / 2**30, "GiB")


if __name__ == "__main__":
    main()
