#!/usr/bin/env python3
"""Reference values of torch's CPU normal noise, for tests/noise_test.cpp.

What it records: for each seed and shape,
    g = torch.Generator("cpu").manual_seed(seed)
    torch.randn(shape, generator=g, dtype=torch.float32)
once per ATen CPU kernel family. torch picks the kernel by ATEN_CPU_CAPABILITY:
  - "avx2"   (ATEN_CPU_CAPABILITY=avx2; also what AVX512 hosts run, because normal_stub is
             registered with REGISTER_NO_AVX512_DISPATCH and falls back to the AVX2 kernel)
  - "scalar" (ATEN_CPU_CAPABILITY=default; the portable kernel with libm logf/cosf/sinf)
Shapes with numel < 16 take a third, per-element double path, identical under both.

Tensors with at most 128 elements are stored whole. Larger ones store the first 64 and the last
64 values, the float64 sum, and the FNV-1a 64-bit hash of the little-endian float32 bytes
(bit-exact over the whole tensor at a fraction of the size). The sum is only a readable summary:
numpy's summation order varies with its version and CPU, so it is compared with a tolerance; the
values, head, tail and hash are compared exactly.

The committed vectors come from torch 2.11.0+cu130 on an AVX512 host; torch 1.13 gives the same
bits (its sums differed only in the last digits).

How to run (CPU torch is enough; any version; writes JSON to stdout):
    python3 tools/reference/torch_noise_vectors.py > tests/data/torch_noise_vectors.json
To check that another torch (e.g. 2.11 on the GPU machine) produces the committed vectors:
    python3 tools/reference/torch_noise_vectors.py --check tests/data/torch_noise_vectors.json
The script re-runs itself once per ATEN_CPU_CAPABILITY value, since the capability is read once
per process.
"""
import json
import os
import subprocess
import sys

SEEDS = [0, 42, 1024]
SHAPES = [[1], [5], [15], [16], [17], [100], [1, 16, 3, 8, 8], [2, 16, 2, 5, 7],
          [1, 16, 21, 60, 104]]
KERNELS = {"avx2": "avx2", "scalar": "default"}  # kernel name -> ATEN_CPU_CAPABILITY
FULL_LIMIT = 128
EDGE = 64


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def dump_current_process():
    import numpy as np
    import torch

    cases = []
    for seed in SEEDS:
        for shape in SHAPES:
            g = torch.Generator("cpu").manual_seed(seed)
            x = torch.randn(shape, generator=g, dtype=torch.float32).contiguous().numpy()
            flat = x.reshape(-1).astype("<f4")
            case = {"seed": seed, "shape": shape, "numel": int(flat.size)}
            if flat.size <= FULL_LIMIT:
                case["values"] = [float(v) for v in flat]
            else:
                case["head"] = [float(v) for v in flat[:EDGE]]
                case["tail"] = [float(v) for v in flat[-EDGE:]]
                case["sum"] = float(flat.astype(np.float64).sum())
                case["fnv1a64"] = fnv1a64(flat.tobytes())
            cases.append(case)
    capability = [l.split(":")[1].strip() for l in torch.__config__.show().splitlines()
                  if "CPU capability usage" in l]
    return {"torch": torch.__version__, "capability": capability[0] if capability else "?",
            "cases": cases}


def same_noise(cases_a, cases_b):
    """True when every recorded bit agrees; the float64 sums only need to agree closely."""
    if len(cases_a) != len(cases_b):
        return False
    for a, b in zip(cases_a, cases_b):
        if {k: v for k, v in a.items() if k != "sum"} != {k: v for k, v in b.items() if k != "sum"}:
            return False
        if "sum" in a and abs(a["sum"] - b["sum"]) > 1e-9 * a["numel"]:
            return False
    return True


def run_with_capability(cap):
    env = dict(os.environ, ATEN_CPU_CAPABILITY=cap)
    out = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    if "--child" in sys.argv:
        json.dump(dump_current_process(), sys.stdout)
        return
    result = {"description": "torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed),"
                             " dtype=float32); see tools/reference/torch_noise_vectors.py",
              "kernels": {}}
    for kernel, cap in KERNELS.items():
        run = run_with_capability(cap)
        result["torch"] = run["torch"]
        result["kernels"][kernel] = {"aten_cpu_capability": cap, "reported": run["capability"],
                                     "cases": run["cases"]}
    # Record which kernel the avx512 capability runs (torch falls back to avx2 for normal_).
    avx512 = run_with_capability("avx512")
    result["avx512_matches"] = [k for k, v in result["kernels"].items()
                                if same_noise(v["cases"], avx512["cases"])]
    if "--check" in sys.argv:
        ref = json.load(open(sys.argv[sys.argv.index("--check") + 1]))
        ok = True
        for kernel, v in ref["kernels"].items():
            same = same_noise(v["cases"], result["kernels"][kernel]["cases"])
            ok &= same
            print(f"{kernel}: {'identical' if same else 'DIFFERENT'} (torch {result['torch']})")
        print("avx512 capability uses kernel:", result["avx512_matches"])
        sys.exit(0 if ok else 1)
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
