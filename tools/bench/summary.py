#!/usr/bin/env python3
"""Prints one table of ours vs the PyTorch anchor from the JSON files scripts/gpu-bench.sh writes
(same card, same call), then the measurements that have no anchor (checkpoint load rates, the
stages of a full-size generation). Usage: python3 tools/bench/summary.py DIR"""
import json
import os
import statistics
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


def info(what, value, unit, note=""):
    """A measurement without an anchor (load rates, stage times)."""
    print(f"{what:44s} {fmt(value):>10s} {'':>10s} {unit:8s} {note}")


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
    # SAGE_ATTN against FLASH_ATTN inside the forward (gpu-bench.sh insitu): the median over the
    # rounds of each run's median per call.
    for config in ("1.3b", "14b"):
        per_call = {}
        for backend in ("FLASH_ATTN", "SAGE_ATTN"):
            runs = [load(d, f"insitu_{config}_{backend}_{r}.json") for r in (1, 2)]
            ms = [j["self_attention_in_place"]["median_ms_per_call"] for j in runs if j]
            per_call[backend] = statistics.median(ms) if ms else None
        if any(v is not None for v in per_call.values()):
            row(f"attn in place {config} SAGE_ATTN vs FLASH_ATTN", per_call["SAGE_ATTN"],
                per_call["FLASH_ATTN"], "ms")
    # Every backend in one run, then the flash kernels alone (ours and PyTorch's, each without the
    # cuDNN runs before it: right after them the FA2-class kernels measured lower and bimodal).
    for ours_file, torch_file, note in (("attention.json", "torch_attention.json", ""),
                                        ("attention_flash.json", "torch_attention_flash.json",
                                         " (alone)")):
        att, tatt = load(d, ours_file), load(d, torch_file)
        if not (att and tatt):
            continue
        for s in att["shapes"]:
            for a in tatt["shapes"]:
                if a["label"] == s["label"] and "median_ms" in a:
                    # Times, not rates: sparse rows count only the blocks they attend.
                    path = s.get("path", "ours")
                    row(f"attn {s['label']} {path} vs torch {a['backend']}{note}",
                        s.get("median_ms"), a["median_ms"], "ms")
    # The upstream projects' own kernels, built on the card (gpu-bench.sh upstream): FastVideo's
    # ThunderKittens VSA kernel against our fine stage, SageAttention2's sm90 path against ours.
    att = load(d, "attention_upstream.json")
    ours = {(s["label"], s["path"]): s for s in att["shapes"]} if att else {}
    sage = load(d, "sageattention.json")
    for a in sage["rows"] if sage else []:
        s = ours.get((a["shape"], "SAGE_ATTN"), {})
        row(f"attn {a['shape']} SAGE_ATTN vs SageAttention2", s.get("tflops"), a["tflops"],
            "TFLOP/s", False)
    vsa = load(d, "fastvideo_vsa.json")
    for a in vsa["rows"] if vsa else []:
        tag = f"@{a['sparsity']}"
        s = ours.get((a["shape"], f"VSA fine (hopper){tag}"), {})
        row(f"attn {a['shape']} VSA fine{tag} vs FastVideo TK", s.get("tflops"), a["tflops"],
            "TFLOP/s", False)
    tdit = load(d, "torch_dit.json")
    for dit in (load(d, "dit.json"), load(d, "dit_flash.json")):
        if not (dit and tdit):
            continue
        backend = dit.get("attention_backend_self", "TORCH_SDPA")
        for name, v in tdit.get("variants", {}).items():
            row(f"DiT 1.3B fwd {backend} vs torch {name}", dit.get("median_seconds"),
                v["median_seconds"], "s")
        print(f"{'  peak device memory (ours)':44s} {dit.get('peak_device_bytes', 0) / 2**30:10.2f} GiB")
    vae, tvae = load(d, "vae.json"), load(d, "torch_vae.json")
    if vae and tvae:
        row("VAE decode 21x60x104", vae.get("seconds_median"), tvae.get("seconds_median"), "s")
        row("VAE peak device memory", vae.get("peak_device_bytes", 0) / 2**30,
            (tvae.get("peak_device_bytes") or 0) / 2**30, "GiB")
    conv, tconv = load(d, "conv.json"), load(d, "torch_conv.json")
    if conv and tconv:
        anchors = {s["name"]: s for s in tconv["shapes"]}
        for s in conv["shapes"]:
            a = anchors.get(s["name"], {})
            row(f"VAE conv {s['name']} vs torch NDHWC bench", s["median_ms"],
                a.get("channels_last_benchmark_ms"), "ms")
        row("VAE convs of one chunk vs torch NDHWC bench", conv.get("chunk_ms"),
            tconv.get("chunk_ms", {}).get("channels_last_benchmark"), "ms")

    # Issue 11's table (gpu-bench.sh compile): eager, compiled, FP8, FP8 compiled.
    dc, df = load(d, "dit_compile.json"), load(d, "dit_fp8.json")
    da = load(d, "dit_autotune.json")
    tcompile = (load(d, "torch_dit.json") or {}).get("variants", {}).get("compile", {})
    for what, ours in (("eager", (dc or {}).get("median_seconds")),
                       ("compiled", (dc or {}).get("compile", {}).get("median_seconds")),
                       ("compiled max-autotune", (da or {}).get("compile", {}).get("median_seconds")),
                       ("FP8", (df or {}).get("fp8", {}).get("median_seconds")),
                       ("FP8 compiled", (df or {}).get("compile", {}).get("median_seconds"))):
        if dc or df:
            row(f"DiT 1.3B FLASH {what} vs torch.compile", ours,
                tcompile.get("median_seconds"), "s")
    if df and "fp8" in df:
        cosines = df["fp8"].get("block_cosine") or [None]
        info("  FP8 block output cosine, worst", min(cosines), "",
             f"(model output {fmt(df['fp8'].get('output_cosine'))})")
    uc = load(d, "umt5_compile.json")
    if uc:
        tvar = (load(d, "torch_umt5.json") or {}).get("variants", {}).get("compile", {})
        row("UMT5-XXL compile mode vs torch.compile", uc.get("compile_median_seconds"),
            tvar.get("median_seconds"), "s")
    se, sc = load(d, "small_eager.json"), load(d, "small_compile.json")
    if se and sc:
        row("1.3B 256x256x17 step: compile vs eager", sc.get("median_step_seconds"),
            se.get("median_step_seconds"), "s")
    sa = load(d, "small_autotune.json")
    if se and sa:
        row("1.3B 256x256x17 step: compile max-autotune vs eager", sa.get("median_step_seconds"),
            se.get("median_step_seconds"), "s")
    for name, label in (("vae", "VAE decode 81x480x832"), ("small_vae", "VAE decode 17x256x256")):
        ve, vc = load(d, f"{name}_eager.json"), load(d, f"{name}_compile.json")
        if ve and vc:
            row(f"{label}: compile vs eager", vc.get("seconds_median"), ve.get("seconds_median"),
                "s")
            row("  the same without the per-decode capture", vc.get("seconds_without_capture_median"),
                ve.get("seconds_median"), "s")

    umt5, tumt5 = load(d, "umt5.json"), load(d, "torch_umt5.json")
    if umt5 and tumt5:
        for name, v in tumt5.get("variants", {}).items():
            if "median_seconds" in v:
                row(f"UMT5-XXL {umt5.get('tokens')} tokens vs torch {name}",
                    umt5.get("median_seconds"), v["median_seconds"], "s")
        print(f"{'  peak device memory (ours)':44s} {umt5.get('peak_device_bytes', 0) / 2**30:10.2f} GiB")
    den, tden = load(d, "denoise.json"), load(d, "torch_denoise.json")
    if den and tden:
        n = den.get("num_inference_steps")
        label = f" (extrapolated from {den.get('steps_run')})" if den.get("extrapolated") else ""
        row(f"Denoise 1.3B {n} steps CFG{label}", den.get("total_seconds"),
            tden.get("total_seconds"), "s")
        row("  per step (2 forwards) vs torch eager cuDNN", den.get("seconds_per_step"),
            tden.get("seconds_per_step"), "s")
        print(f"{'  peak device memory (ours / torch)':44s} {den.get('peak_device_bytes', 0) / 2**30:10.2f}"
              f" {(tden.get('peak_device_bytes') or 0) / 2**30:10.2f} GiB"
              f"   (torch: Euler update, see its JSON)")
    d14, td14 = load(d, "dit14b.json"), load(d, "torch_dit14b.json")
    if d14 and td14:
        layers, full = d14.get("layers"), d14.get("num_layers")
        ours = d14.get("extrapolated", {}).get("full_forward_seconds", d14.get("median_seconds"))
        for name, v in td14.get("variants", {}).items():
            if "median_seconds" not in v:
                continue
            theirs = v.get("extrapolated_full_forward_seconds", v["median_seconds"])
            note = f" ({layers}/{full} layers, extrap.)" if layers != full else ""
            row(f"DiT 14B forward{note} vs {name}", ours, theirs, "s")
        print(f"{'  peak device memory (ours, measured layers)':44s} {d14.get('peak_device_bytes', 0) / 2**30:10.2f} GiB")
    ld = load(d, "load.json")
    if ld:
        print(f"\ncheckpoint load onto {ld.get('device')} ({ld.get('weight_dtype')} weights), no anchor:")
        for r in ld.get("rounds", []):
            for c in r.get("components", []) + [r.get("from_pretrained", {})]:
                if not c:
                    continue
                info(f"  round {r['round']} {c['name']}", c.get("gb_per_s"), "GB/s",
                     f"{c['bytes'] / 1e9:.2f} GB in {c['seconds']:.2f} s, "
                     f"{100 * c.get('page_cache_resident', 0):.0f}% cached before ({r.get('page_cache')})")
    # Every mode gpu-bench.sh fullgen ran (FULLGEN_MODES), in the order it ran them.
    runs = sorted((f for f in os.listdir(d) if f.startswith("fullgen_") and f.endswith(".json")),
                  key=lambda f: os.path.getmtime(os.path.join(d, f)))
    for name in runs:
        mode = name[len("fullgen_"):-len(".json")]
        gen = load(d, name)
        p = gen.get("parameters", {})
        print(f"\nfull-size generation, {mode} (random 1.3B weights) {gen.get('width')}x"
              f"{gen.get('height')}x{gen.get('frames')}, {p.get('num_inference_steps')} steps, "
              f"{gen.get('transformer_forwards')} forwards, CFG gate step {p.get('cfg_gate_step')}, "
              f"{p.get('attention_backend_self')}, linears {p.get('transformer_quant', 'bf16')}:")
        for s in gen.get("stages", []):
            info(f"  {s['name']}", s["seconds"], "s",
                 f"peak device {s.get('peak_device_bytes', 0) / 2**30:.2f} GiB")
        info("  total", gen.get("total_seconds"), "s",
             f"compile (one-time) {gen.get('compile_seconds', 0):.2f} s")
        if gen.get("total_seconds") is not None:
            # compile_seconds: the transformer's and a compiled UMT5's graph captures and GEMM
            # autotuning, one-time; also the VAE's captures, which recur each decode when
            # compile.vae_enabled (fullgen leaves it off).
            info("  steady state", gen["total_seconds"] - gen.get("compile_seconds", 0), "s",
                 "total less the one-time compile (the seed page's benchmarking discipline)")


if __name__ == "__main__":
    main()
