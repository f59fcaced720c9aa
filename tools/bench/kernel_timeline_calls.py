"""A GPU timeline (kernel_timeline.sh) as calls of an op: each item's (kernel's, memset's,
memcpy's) mean duration in sequence and the mean idle gap before it, over the last N calls that
contain MARKER. A call runs from an item named FIRST to the next one; names are the short ones
printed (a kernel's name without namespaces, template arguments or parameters), matched exactly.
Calls whose sequence of names differs from the most common one among them are left out. The gap
before the first item is the one after the previous call.

Usage: python3 tools/bench/kernel_timeline_calls.py TRACE.csv FIRST MARKER [N (10)]
"""
import collections
import csv
import sys


def short_name(name):
    name = name.replace("(anonymous namespace)::", "").replace("void ", "")
    return name.split("(")[0].split("<")[0].split("::")[-1]


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    path, first, marker = sys.argv[1:4]
    last = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    if last < 1:
        sys.exit(f"N must be at least 1, got {last}")
    with open(path) as f:
        rows = [(int(r["Start (ns)"]), int(r["Duration (ns)"]), short_name(r["Name"]))
                for r in csv.DictReader(f)]
    # Timestamps are absolute nanoseconds (~1e18): differences in integers, then microseconds.
    t0 = min((r[0] for r in rows), default=0)
    items = sorted(((s - t0) / 1e3, d / 1e3, n) for s, d, n in rows)
    starts = [i for i, item in enumerate(items) if item[2] == first]
    calls = [(a, items[a:b]) for a, b in zip(starts, starts[1:] + [len(items)])]
    calls = [(a, c) for a, c in calls if any(item[2] == marker for item in c)]
    if not calls:
        sys.exit(f"no call from {first} contains {marker} in {path}")
    names = collections.Counter(tuple(i[2] for i in c) for _, c in calls).most_common(1)[0][0]
    calls = [(a, c) for a, c in calls if tuple(i[2] for i in c) == names][-last:]
    n = len(calls)
    duration = [sum(c[i][1] for _, c in calls) / n for i in range(len(names))]

    def gap_before(a, c, i):
        previous = c[i - 1] if i else (items[a - 1] if a else None)
        return c[i][0] - previous[0] - previous[1] if previous else 0.0

    gap = [sum(gap_before(a, c, i) for a, c in calls) / n for i in range(len(names))]
    span = sum(c[-1][0] + c[-1][1] - c[0][0] for _, c in calls) / n
    print(f"{n} calls of {len(names)} items; first start to last end {span:.1f} us")
    for i, name in enumerate(names):
        print(f"{i:2d} {name[:38]:38s} {duration[i]:8.1f} us  gap before {gap[i]:6.1f}")
    print(f"sum of durations {sum(duration):.1f} us, of gaps within a call {sum(gap[1:]):.1f} us, "
          f"before it {gap[0]:.1f} us")


if __name__ == "__main__":
    main()
