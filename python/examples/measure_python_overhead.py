"""The Python package's overhead on one generation, against `fastvideo generate` for the same
request (issue 13 asks for at most 5 %). Prints a measurement; it is not a test (timings on a
shared machine are noisy).

    python python/examples/measure_python_overhead.py [--model DIR] [--repeats 7] [--cli build/fastvideo]

Per generation, median over the repeats, the model loaded once on each side:
  python: generate_video's wall time in the calling thread;
  cli:    the engine's stage total that `fastvideo generate --log-json` records (the CLI's own
          per-generation time; its process start and model load are reported apart).
Also the whole-process times: `python -c` (import, from_pretrained, generate_video) against one
`fastvideo generate` run. CPU times (user + system, all threads) are printed beside the wall times:
on a shared, loaded machine they are the steadier comparison.
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from fastvideo_cpp import VideoGenerator, _fastvideo_cpp

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROMPT = "A red fox runs through fresh snow at dawn."


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed_process(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def cli_command(cli: str, model: str, out: pathlib.Path, log: pathlib.Path) -> list[str]:
    return [cli, "generate", "--model", model, "--prompt", PROMPT, "--seed", "42",
            "--output", str(out), "--overwrite", "--log-json", str(log)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cli", default=os.environ.get("FASTVIDEO_CLI",
                                                        str(ROOT / "build" / "fastvideo")))
    args = parser.parse_args()
    model = args.model or _fastvideo_cpp.default_tiny_model()
    os.environ.setdefault("FASTVIDEO_LOG_LEVEL", "warning")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        gen = VideoGenerator.from_pretrained(model)
        gen.generate_video(PROMPT, seed=42, output_path=str(tmp / "warm.mp4"))  # warm caches
        py_wall, py_engine, py_cpu = [], [], []
        for i in range(args.repeats):
            cpu = cpu_seconds(resource.RUSAGE_SELF)
            start = time.perf_counter()
            video = gen.generate_video(PROMPT, seed=42, output_path=str(tmp / f"py{i}.mp4"),
                                       progress_bar=False)
            py_wall.append(time.perf_counter() - start)
            py_cpu.append(cpu_seconds(resource.RUSAGE_SELF) - cpu)
            py_engine.append(video["generation_time"])
        cli_wall, cli_cpu, cli_engine = [], [], []
        for i in range(args.repeats):
            log = tmp / f"cli{i}.json"
            wall, cpu = timed_process(cli_command(args.cli, model, tmp / f"cli{i}.mp4", log))
            cli_wall.append(wall)
            cli_cpu.append(cpu)
            cli_engine.append(json.loads(log.read_text())["total_seconds"])
        proc_wall, proc_cpu = [], []
        for i in range(args.repeats):
            code = ("from fastvideo_cpp import VideoGenerator; VideoGenerator.from_pretrained("
                    f"{model!r}).generate_video({PROMPT!r}, seed=42, "
                    f"output_path={str(tmp / f'proc{i}.mp4')!r})")
            wall, cpu = timed_process([sys.executable, "-c", code])
            proc_wall.append(wall)
            proc_cpu.append(cpu)

    med = statistics.median
    print(f"model: {model}, {args.repeats} repeats, medians")
    print(f"python generate_video wall      {med(py_wall) * 1e3:9.1f} ms "
          f"(engine stages {med(py_engine) * 1e3:.1f} ms)")
    print(f"cli generation (stage total)    {med(cli_engine) * 1e3:9.1f} ms")
    print(f"python overhead per generation  {(med(py_wall) / med(cli_engine) - 1) * 100:+9.2f} % "
          f"of the CLI's generation time ({(med(py_wall) - med(py_engine)) * 1e3:.2f} ms above "
          f"its own engine stages)")
    print(f"python generate_video CPU       {med(py_cpu) * 1e3:9.1f} ms (all threads)")
    print(f"whole process wall: python -c {med(proc_wall) * 1e3:.0f} ms, fastvideo generate "
          f"{med(cli_wall) * 1e3:.0f} ms ({(med(proc_wall) / med(cli_wall) - 1) * 100:+.1f} %)")
    print(f"whole process CPU:  python -c {med(proc_cpu) * 1e3:.0f} ms, fastvideo generate "
          f"{med(cli_cpu) * 1e3:.0f} ms ({(med(proc_cpu) / med(cli_cpu) - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
