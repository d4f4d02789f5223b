"""fvcli's exit codes and what each means: the one table that the command line, its help
text and the Slurm script read."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """How a run of fvcli ended."""

    DONE = 0
    FAILURE = 1        # something failed while running (a write, the network to a model)
    BAD_INPUT = 2      # bad usage or a bad job file; nothing was written
    UNITS_FAILED = 3   # some units' numbers went NaN or infinite; the others are done
    STOPPED = 75       # SIGTERM; EX_TEMPFAIL, "run again to finish" (never 143, which a
                       # process killed without cleaning up returns too)
    INTERRUPTED = 130  # Ctrl-C, the shell's code for it


def exit_codes_help() -> str:
    """The exit codes in one sentence, for ``--help``."""
    return (f"Exit codes: {ExitCode.DONE} done, {ExitCode.FAILURE} failure while running, "
            f"{ExitCode.BAD_INPUT} bad usage or job file (nothing written), "
            f"{ExitCode.UNITS_FAILED} some units failed (their numbers went NaN or infinite; "
            f"the others are done), {ExitCode.STOPPED} stopped by SIGTERM and "
            f"{ExitCode.INTERRUPTED} by Ctrl-C (finished units kept, nothing partial written; "
            "run again to finish).")
