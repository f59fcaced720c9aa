"""A kernel timeline (kernel_timeline.sh) as calls of an op: each kernel's mean duration in
sequence and the mean idle gap before it, over the last N calls that contain MARKER. A call runs
from a kernel whose name starts with FIRST to the next such kernel; calls whose kernel sequence differs from the most
common one among them are left out.

Usage: python3 tools/bench/kernel_timeline_calls.py TRACE.csv FIRST MARKER [N (10)]
"""
import collections
import csv
import sys


def short_name(name):
    name = name.replace("(anonymous namespace)::", "").replace("void ", "")
    return name.split("(")[0].split("<")[0].split("::")[-1][:38]


def main():
    path, first, marker = sys.argv[1:4]
    last = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    with open(path) as f:
        kernels = sorted((float(r["Start (ns)"]) / 1e3, float(r["Duration (ns)"]) / 1e3,
                          short_name(r["Name"])) for r in csv.DictReader(f))
    starts = [i for i, k in enumerate(kernels) if k[2].startswith(first)]
    calls = [kernels[a:b] for a, b in zip(starts, starts[1:] + [len(kernels)])]
    calls = [c for c in calls if any(k[2].startswith(marker) for k in c)]
    if not calls:
        sys.exit(f"no call from {first} contains {marker} in {path}")
    names = collections.Counter(tuple(k[2] for k in c) for c in calls).most_common(1)[0][0]
    calls = [c for c in calls if tuple(k[2] for k in c) == names][-last:]
    n = len(calls)
    duration = [sum(c[i][1] for c in calls) / n for i in range(len(names))]
    gap = [sum(c[i][0] - c[i - 1][0] - c[i - 1][1] for c in calls) / n if i else 0.0
           for i in range(len(names))]
    span = sum(c[-1][0] + c[-1][1] - c[0][0] for c in calls) / n
    print(f"{n} calls of {len(names)} kernels; first start to last end {span:.1f} us")
    for i, name in enumerate(names):
        print(f"{i:2d} {name:38s} {duration[i]:8.1f} us  gap before {gap[i]:6.1f}")
    print(f"sum of durations {sum(duration):.1f} us, of gaps {sum(gap):.1f} us")


if __name__ == "__main__":
    main()
