"""Stopping cleanly on SIGTERM (Slurm's time limit, preemption, kill) and Ctrl-C.

The signals set a flag instead of killing the process; the render loop checks it after
every step and stops before writing anything partial. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import signal

# Exit codes of a run that stopped on a signal: 75 is EX_TEMPFAIL ("run again to finish"),
# 130 the shell's code for Ctrl-C. Never 143, which a process killed without cleaning up
# returns too.
EXIT_STOPPED = 75
EXIT_INTERRUPTED = 130


class StopSignals:
    """While entered, SIGTERM and SIGINT ask the run to stop; call it to ask whether one
    came."""

    def __init__(self):
        self.received: int | None = None
        self._previous: dict = {}

    def __call__(self) -> bool:
        return self.received is not None

    @property
    def exit_code(self) -> int:
        return EXIT_INTERRUPTED if self.received == signal.SIGINT else EXIT_STOPPED

    @property
    def name(self) -> str:
        return "Ctrl-C" if self.received == signal.SIGINT else "SIGTERM"

    def _handle(self, number, _frame) -> None:
        if self.received == signal.SIGINT and number == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the user wants out now
        self.received = self.received or number

    def __enter__(self):
        for number in (signal.SIGTERM, signal.SIGINT):
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
