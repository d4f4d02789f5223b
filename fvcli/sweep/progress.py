"""Progress on stderr: a redrawn bar on a terminal, plain lines in logs (cron, Slurm).

It counts the image-steps and units of a whole run (a shard of a sweep), so a log says how
far the run is and how long the rest will take, not only the current batch."""

from __future__ import annotations

import sys
import time

PLAIN_LINE_EVERY = 10.0  # seconds between lines when stderr is not a terminal


class Progress:
    """Counts image-steps and finished units of one run and reports them."""

    def __init__(self, label: str, total: int, quiet: bool = False, stream=None,
                 unit_count: int = 0):
        self.label = label
        self.total = max(1, total)
        self.done = 0
        self.units_total = unit_count
        self.units_done = 0
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.is_terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()
        self._last_line = self.started

    def advance(self, amount: int) -> None:
        """Count ``amount`` image-steps done."""
        self.done = min(self.total, self.done + amount)
        if self.quiet:
            return
        now = time.perf_counter()
        if self.is_terminal:
            filled = int(30 * self.done / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self._counts()} {self._eta(now)}\033[K")
            self.stream.flush()
        elif now - self._last_line >= PLAIN_LINE_EVERY:
            self._last_line = now
            self.stream.write(f"{self.label}: {self._counts()} {self._eta(now)}\n")
            self.stream.flush()

    def units_finished(self, count: int) -> None:
        """Count ``count`` units written."""
        self.units_done += count

    def say(self, message: str) -> None:
        """One line about the run, e.g. how a job's batch size was chosen."""
        if self.quiet:
            return
        if self.is_terminal:
            self.stream.write("\r\033[K")
        self.stream.write(f"{message}\n")
        self.stream.flush()

    def warn(self, message: str) -> None:
        """A line the user should see even with --quiet."""
        if self.is_terminal and not self.quiet:
            self.stream.write("\r\033[K")
        self.stream.write(f"fvcli: warning: {message}\n")
        self.stream.flush()

    def finish(self, message: str) -> None:
        """The run's last line: ``label: message``."""
        self.say(f"{self.label}: {message}")

    def _counts(self) -> str:
        counted = f"{self.units_done}/{self.units_total} units, " if self.units_total else ""
        return f"{counted}{100 * self.done / self.total:.0f}%"

    def _eta(self, now: float) -> str:
        elapsed = now - self.started
        if not self.done:
            return f"{format_duration(elapsed)} elapsed"
        left = elapsed * (self.total - self.done) / self.done
        return f"{format_duration(elapsed)} elapsed, ~{format_duration(left)} left"


def format_duration(seconds: float) -> str:
    """3 s, 12 min, 5 h 20 min, 2 d 3 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, minutes = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
