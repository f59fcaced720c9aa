"""The seed page's backend benchmark (seed-optimizations.txt, "Benchmarking different
optimizations"): the same prompt and seed with each attention backend, end-to-end time per backend.
A backend this machine cannot run is reported with the engine's reason instead of stopping the loop.

    python python/examples/benchmark_backends.py [--model DIR] [--backends TORCH_SDPA,FLASH_ATTN]

Without --model it runs the tiny test model (on the CPU when there is no GPU); give a real
checkpoint folder for meaningful numbers, and discard nothing: each generation loads its own
generator, as on the seed page.
"""

import argparse
import os
import time

from fastvideo_cpp import FastVideoError, VideoGenerator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="checkpoint folder (default: tiny model)")
    parser.add_argument("--backends", default="TORCH_SDPA,FLASH_ATTN,SAGE_ATTN")
    parser.add_argument("--prompt", default="Your prompt")
    parser.add_argument("--seed", type=int, default=1024)
    args = parser.parse_args()

    for backend in args.backends.split(","):
        # Read by VideoGenerator at construction: reinstantiate after changing it.
        os.environ["FASTVIDEO_ATTENTION_BACKEND"] = backend
        try:
            generator = VideoGenerator.from_pretrained(args.model)
        except FastVideoError as e:
            print(f"{backend}: not run here: {e}")
            continue
        start_time = time.perf_counter()
        generator.generate_video(prompt=args.prompt, seed=args.seed, save_video=False)
        elapsed = time.perf_counter() - start_time
        print(f"{backend}: {elapsed:.2f}s")


if __name__ == "__main__":
    main()
