"""Stopping cleanly on SIGTERM (Slurm's time limit, preemption, kill) and Ctrl-C.

The signals set a flag instead of killing the process; the render loop checks it after
every step and stops before writing anything partial. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import signal


class StopSignals:
    """While entered, SIGTERM and SIGINT ask the run to stop; call it to ask whether one
    came."""

    def __init__(self):
        self.received: int | None = None
        self._previous: dict = {}

    def __call__(self) -> bool:
        return self.received is not None

    @property
    def interrupted(self) -> bool:
        """True when the signal was Ctrl-C (SIGINT), False for SIGTERM."""
        return self.received == signal.SIGINT

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
