#!/usr/bin/env bash
# Runs a command with the GPU's SM clock, power and clock-event reasons sampled every 20 ms
# (nvidia-smi), then summarises the busy samples (those without the idle reason): which clocks,
# the power (nvidia-smi's power.draw, a one-second average on Hopper, so it trails the load), and
# why the clock was held down. Under its power cap an H100 or H200 lowers the clock within a few hundred
# ms of a heavy kernel starting, by how much depending on the kernel (docs/perf.md, session 58).
#
# Usage: tools/bench/sample_clocks.sh SAMPLES.csv COMMAND [ARGS...]
# Every GPU's samples count together. Exits with the command's status.
set -uo pipefail
samples=${1:?usage: sample_clocks.sh SAMPLES.csv COMMAND [ARGS...]}
shift
: >"$samples"  # here, not in the sampler's subshell: a short command may end before it starts
nvidia-smi --query-gpu=index,clocks.sm,power.draw,temperature.gpu,clocks_event_reasons.active \
  --format=csv,noheader,nounits -lms 20 >>"$samples" 2>&1 &
sampler=$!
trap 'kill "$sampler" 2>/dev/null' EXIT
"$@"
status=$?
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
python3 - "$samples" <<'PY'
import collections, sys

IDLE = 0x1
REASONS = {0x2: "application clocks", 0x4: "SW power cap", 0x8: "HW slowdown", 0x10: "sync boost",
           0x20: "SW thermal", 0x40: "HW thermal", 0x80: "HW power brake", 0x100: "display clock"}
rows = []
for line in open(sys.argv[1]):
    f = [x.strip() for x in line.split(",")]
    try:
        rows.append((f[0], int(f[1]), float(f[2]), int(f[3]), int(f[4], 16)))
    except (IndexError, ValueError):
        continue
if not rows:
    first = open(sys.argv[1]).readline().strip()
    sys.exit(f"sample_clocks.sh: nvidia-smi gave no samples; it said: {first or 'nothing'}")
busy = [r for r in rows if not r[4] & IDLE]
print(f"clock samples: {len(rows)}, busy (not idle): {len(busy)}")
if busy:
    clocks = collections.Counter(r[1] for r in busy)
    print("  SM MHz (samples):", ", ".join(f"{c} ({n})" for c, n in sorted(clocks.items(), reverse=True)))
    power = [r[2] for r in busy]
    print(f"  power mean {sum(power) / len(power):.0f} W, max {max(power):.0f} W; "
          f"temperature {min(r[3] for r in busy)}-{max(r[3] for r in busy)} C")
    why = collections.Counter()
    for r in busy:
        why.update(name for bit, name in REASONS.items() if r[4] & bit)
    print("  clock held down by:", ", ".join(f"{k} ({n})" for k, n in why.most_common()) or "nothing")
PY
exit "$status"
