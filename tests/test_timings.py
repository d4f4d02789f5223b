"""FVCLI_TIMINGS: each second charged to one phase, the lines printed and read back."""

import os
import subprocess
import sys
import time

from fvcli import timings


def test_nested_phases_are_charged_once(monkeypatch):
    monkeypatch.setattr(timings, "_totals", {})
    with timings._Phase("outer"):
        time.sleep(0.05)
        with timings._Phase("inner"):
            time.sleep(0.1)
    totals = timings._totals
    assert 0.1 <= totals["inner"] < 0.1 + 0.05
    assert 0.05 <= totals["outer"] < 0.1  # without the inner phase's 0.1 s


def test_off_by_default_and_printed_and_parsed_when_on():
    if not timings.ENABLED:  # as the suite runs: timing off, one shared no-op
        assert timings.phase("anything") is timings.phase("other")
    code = ("from fvcli.timings import phase\n"
            "with phase('model load'): pass\n"
            "with phase('trace'): pass\n")
    env = dict(os.environ, FVCLI_TIMINGS="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True)
    phases = timings.parse(result.stderr)
    assert list(phases) == ["model load", "trace", "since import"]
    assert all(seconds >= 0 for seconds in phases.values())
