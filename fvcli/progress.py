"""Progress on stderr: a redrawn bar on a terminal, plain lines in logs (cron, Slurm)."""

from __future__ import annotations

import sys
import time

PLAIN_LINE_EVERY = 10.0  # seconds between lines when stderr is not a terminal


class Progress:
    """Counts image-steps of one job and reports them."""

    def __init__(self, label: str, total: int, quiet: bool = False, stream=None):
        self.label = label
        self.total = max(1, total)
        self.done = 0
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.is_terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()
        self._last_line = self.started

    def advance(self, amount: int) -> None:
        self.done = min(self.total, self.done + amount)
        if self.quiet:
            return
        now = time.perf_counter()
        if self.is_terminal:
            filled = int(30 * self.done / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {100 * self.done / self.total:3.0f}% "
                              f"{self._eta(now)}")
            self.stream.flush()
        elif now - self._last_line >= PLAIN_LINE_EVERY:
            self._last_line = now
            self.stream.write(f"{self.label}: {100 * self.done / self.total:.0f}% "
                              f"{self._eta(now)}\n")
            self.stream.flush()

    def say(self, message: str) -> None:
        """One line about the job, e.g. how its batch size was chosen."""
        if self.quiet:
            return
        if self.is_terminal:
            self.stream.write("\r\033[K")
        self.stream.write(f"{self.label}: {message}\n")
        self.stream.flush()

    def finish(self, message: str) -> None:
        self.say(message)

    def _eta(self, now: float) -> str:
        elapsed = now - self.started
        if not self.done:
            return f"{elapsed:.0f}s"
        left = elapsed * (self.total - self.done) / self.done
        return f"{elapsed:.0f}s elapsed, ~{left:.0f}s left"
