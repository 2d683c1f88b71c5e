"""A dependency-free progress bar on stderr."""

import sys
import time
from typing import TextIO


class ProgressBar:
    """`label [#####.....] 40/100` redrawn in place, at most ten times a second, ended by `finish()`."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self._last_draw = 0.0

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        now = time.monotonic()
        if now - self._last_draw >= 0.1:
            self._draw()
            self._last_draw = now

    def finish(self, summary: str = "") -> None:
        self.total = max(self.total, self.done)
        self._draw()
        self.stream.write(f" {summary}\n" if summary else "\n")
        self.stream.flush()

    def _draw(self) -> None:
        filled = round(self.width * min(self.done / self.total, 1.0))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()
