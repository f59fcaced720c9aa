"""What every PyTorch anchor (tools/bench/torch_*_anchor.py) shares: timing by the same method as
our `fastvideo bench` commands, so the two columns of a table are comparable, and the JSON report
that tools/bench/summary.py reads."""
import json
import sys
import time

import torch


def time_runs(fn, warmup, repeats, on_gpu=True, warmup_ms=0):
    """Seconds of each of `repeats` calls of fn after `warmup` untimed ones, under inference_mode.
    On the GPU each call is timed with CUDA events on the current stream; else wall clock. With
    warmup_ms, untimed calls go on for that long after the `warmup` ones, each queued behind the
    last, so the timed calls run at the clock the card settles to under fn in a loop (its power
    cap), as `fastvideo bench attention --warmup-ms` does."""
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        if on_gpu and warmup_ms > 0:
            until = time.perf_counter() + warmup_ms / 1e3
            previous = None
            while time.perf_counter() < until:
                fn()
                done = torch.cuda.Event()
                done.record()
                if previous is not None:
                    previous.synchronize()
                previous = done
        if on_gpu:
            torch.cuda.synchronize()
        seconds = []
        for _ in range(repeats):
            if on_gpu:
                start = torch.cuda.Event(enable_timing=True)
                stop = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                seconds.append(start.elapsed_time(stop) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                seconds.append(time.perf_counter() - t0)
    return seconds


def report_json(result, path):
    """Prints the result as JSON and, when path is given, also writes it there."""
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")


def build_extension(name, sources, include_dirs=(), cuda_flags=(), cxx_flags=(), ldflags=()):
    """Builds another project's CUDA sources into a Python extension for sm_90a with PyTorch's
    loader, in a fresh temporary folder (the upstream anchors: fastvideo_vsa_anchor.py,
    sageattention_anchor.py). Imported late: the loader needs nvcc and ninja, the other anchors
    neither. With FASTVIDEO_ANCHOR_BUILD_DIR set, the build goes to a folder of name under it and
    a later run with the same sources reuses it (--build-only runs the long compiles side by side,
    then the timed runs one at a time)."""
    import os
    import tempfile
    from torch.utils.cpp_extension import load
    keep = os.environ.get("FASTVIDEO_ANCHOR_BUILD_DIR")
    folder = os.path.join(keep, name) if keep else tempfile.mkdtemp(prefix=name)
    os.makedirs(folder, exist_ok=True)
    return load(name=name, sources=list(sources), build_directory=folder,
                extra_include_paths=list(include_dirs),
                extra_cuda_cflags=["-gencode", "arch=compute_90a,code=sm_90a", *cuda_flags],
                extra_cflags=list(cxx_flags), extra_ldflags=list(ldflags), verbose=False)


def add_warmup_ms_arg(parser):
    """--warmup-ms as `fastvideo bench attention` takes it, with the same default."""
    def milliseconds(text):
        value = int(text)
        if value < 0:
            raise ValueError(text)
        return value
    milliseconds.__name__ = "milliseconds >= 0"  # argparse's message names the type
    parser.add_argument("--warmup-ms", type=milliseconds, default=500,
                        help="untimed calls for this long after --warmup, per row (0: none)")


def run_settings(args):
    """The warm-up and repeats an anchor ran with (add_run_args'), for its JSON report."""
    return {"warmup": args.warmup, "warmup_ms": args.warmup_ms, "repeats": args.repeats}


def add_run_args(parser):
    """The timing and report arguments every upstream anchor takes."""
    parser.add_argument("--warmup", type=int, default=3)
    add_warmup_ms_arg(parser)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", help="also write the JSON report here")
    parser.add_argument("--build-only", action="store_true",
                        help="build the extension and stop (needs FASTVIDEO_ANCHOR_BUILD_DIR, "
                             "where a later run finds it)")


def refuse_lost_build(args):
    """--build-only keeps its build only under FASTVIDEO_ANCHOR_BUILD_DIR: refused without it."""
    import os
    if args.build_only and not os.environ.get("FASTVIDEO_ANCHOR_BUILD_DIR"):
        sys.exit("--build-only needs FASTVIDEO_ANCHOR_BUILD_DIR: without it the build goes to a "
                 "temporary folder that no later run finds")


def require_hopper(what):
    """Exits naming `what` unless an sm_90 GPU is here (the upstream kernels are sm_90a only)."""
    if not torch.cuda.is_available() or torch.cuda.get_device_capability() != (9, 0):
        sys.exit(f"{what} needs an sm_90 GPU (H100, H200)")
