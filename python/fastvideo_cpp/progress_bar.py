"""A one-line tqdm-like progress bar for the denoising steps, drawn on a terminal only."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, width: int = 30):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.drawn = False

    @staticmethod
    def wanted(stream: TextIO | None = None) -> bool:
        stream = stream if stream is not None else sys.stderr
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def __call__(self, step: int, total: int, seconds_per_step: float) -> None:
        done = min(max(step, 0), total)
        filled = self.width * done // max(total, 1)
        left = (total - done) * seconds_per_step
        self.stream.write(f"\r{100 * done // max(total, 1):3d}%|{'█' * filled}"
                          f"{' ' * (self.width - filled)}| {done}/{total} "
                          f"[<{left:.0f}s, {seconds_per_step:.2f}s/it]")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
