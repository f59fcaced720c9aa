"""Sums ncu's per-kernel durations by kernel name and prints the top 40 per forward (or per any
unit of work the profiled program repeated FORWARDS times).

Usage: ncu --metrics gpu__time_duration.sum --csv PROGRAM > ncu.csv
       python3 tools/bench/ncu_kernel_summary.py FORWARDS < ncu.csv
"""
import collections
import csv
import sys

TO_MS = {"ns": 1e-6, "nsecond": 1e-6, "us": 1e-3, "usecond": 1e-3, "ms": 1.0, "msecond": 1.0}


def main():
    forwards = int(sys.argv[1])
    rows = list(csv.reader(line for line in sys.stdin if line.startswith('"')))
    head, rows = rows[0], rows[1:]
    name, value, unit = (head.index(c) for c in ("Kernel Name", "Metric Value", "Metric Unit"))
    total, count = collections.Counter(), collections.Counter()
    for r in rows:
        kernel = r[name][:110]
        total[kernel] += float(r[value].replace(",", "")) * TO_MS[r[unit]]
        count[kernel] += 1
    all_ms = sum(total.values()) / forwards
    print(f"kernel time per forward {all_ms:.3f} ms over {len(rows)} kernels / {forwards} forwards")
    for kernel, ms in total.most_common(40):
        per = ms / forwards
        print(f"{per:9.3f} ms {100 * per / all_ms:5.1f} %  x{count[kernel] // forwards:3d}  {kernel}")


if __name__ == "__main__":
    main()
