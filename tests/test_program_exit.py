"""`python -m fvcli` (and the installed `fvcli`) exits without the interpreter's teardown:
what it prints must still all arrive, with the exit code main gives."""

import os
import subprocess
import sys

from support.helpers import CHECKOUT, run


def _program(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "fvcli", *args], capture_output=True,
                          text=True, env=env)


def test_everything_printed_arrives_through_pipes():
    program, in_process = _program("render", "--help"), run("render", "--help")
    assert program.returncode == in_process.exit_code == 0
    # all of it, flushed before the exit (the program's name and line wrapping differ)
    expected = in_process.output.replace("Usage: main ", "Usage: python -m fvcli ")
    assert program.stdout.split() == expected.split()
    assert len(program.stdout) > 1000


def test_exit_codes_and_errors_are_those_of_main(tmp_path):
    missing = str(tmp_path / "missing.yaml")
    program, in_process = _program("render", missing), run("render", missing)
    assert program.returncode == in_process.exit_code == 2
    assert program.stderr.strip().endswith(in_process.output.strip().splitlines()[-1])
