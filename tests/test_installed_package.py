"""What users run is the installed package, not this checkout: an sdist is built, a wheel is
built from the sdist (as `pip install .` and `python -m build` do), and the wheel is
installed into a fresh virtual environment outside the checkout, where fvcli must start,
render the built-in demo model and import itself from that environment.

The new environment gets no download: it sees the test environment's copies of exactly the
distributions the wheel declares it needs (and what they declare, recursively), so a
dependency the code uses but the package does not declare fails here too."""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

import fvcli

pytestmark = pytest.mark.slow  # builds and installs the package, runs it in a subprocess

CHECKOUT = Path(__file__).resolve().parent.parent
NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "renders", "build", "dist", "*.egg-info",
                                    "__pycache__", ".pytest_cache", ".hypothesis")


def build(backend_call: str, source: Path, into: Path) -> Path:
    """Run setuptools' build backend (``build_sdist`` or ``build_wheel``) in ``source``."""
    into.mkdir(exist_ok=True)
    code = f"from setuptools import build_meta; print(build_meta.{backend_call}({str(into)!r}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    return into / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with fvcli installed from a wheel built from an sdist; its
    dependencies (TensorFlow and the rest) are borrowed from the test environment."""
    work = tmp_path_factory.mktemp("installed")
    source = work / "source"
    shutil.copytree(CHECKOUT, source, ignore=NOT_SOURCE)
    sdist = build("build_sdist", source, work / "dist")
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "unpacked", filter="data")
    (unpacked,) = (work / "unpacked").iterdir()
    wheel = build("build_wheel", unpacked, work / "dist")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    borrowed = work / "borrowed"
    borrowed.mkdir()
    for name in dependency_closure(wheel_requirements(wheel)):
        link_distribution(importlib.metadata.distribution(name), borrowed)
    (purelib,) = (venv / "lib").glob("python*/site-packages")
    (purelib / "borrowed_dependencies.pth").write_text(f"{borrowed}\n")
    return venv


def wheel_requirements(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel's metadata."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode("utf8")
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:")]


def dependency_closure(requirements: list[str]) -> set[str]:
    """Names of the distributions ``requirements`` need here, recursively (no extras)."""
    environment = {**default_environment(), "extra": ""}
    todo, needed = list(requirements), set()
    while todo:
        requirement = Requirement(todo.pop())
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = requirement.name.lower().replace("_", "-")
        if name not in needed:
            needed.add(name)
            todo += importlib.metadata.distribution(name).requires or []
    return needed


def link_distribution(distribution, folder: Path) -> None:
    """Symlink a distribution's top-level modules, packages and metadata into ``folder``."""
    for part in {file.parts[0] for file in distribution.files or []}:
        source = Path(distribution.locate_file(part))
        if part not in ("..", "__pycache__") and source.exists() \
                and not (folder / part).exists():
            os.symlink(source, folder / part)


def run_installed(venv: Path, *args, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3",
           "HOME": str(cwd), "XDG_CACHE_HOME": str(cwd / "cache"),
           "TMPDIR": os.environ.get("TMPDIR", str(cwd))}
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_installed_wheel_imports_itself_not_the_checkout(installed, tmp_path):
    result = run_installed(installed, "python", "-c",
                           "import fvcli, fvcli.cli, fvcli.config; print(fvcli.__file__)",
                           cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    imported = Path(result.stdout.strip())
    assert imported.is_relative_to(installed), imported
    assert not imported.is_relative_to(CHECKOUT)


def test_the_installed_wheel_starts_and_renders_the_demo(installed, tmp_path):
    version = run_installed(installed, "fvcli", "--version", cwd=tmp_path)
    assert version.returncode == 0 and fvcli.__version__ in version.stdout, version.stderr
    helped = run_installed(installed, "fvcli", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "render" in helped.stdout, helped.stderr
    (tmp_path / "jobs.yaml").write_text(textwrap.dedent("""\
        model: demo
        defaults: {size: 32, steps: 4, batch_size: 2}
        jobs:
          - {name: conv2, objective: channel, layer: conv2, channels: 0-1}
          - {name: maco, objective: channel, layer: conv2, channels: 0, param: maco}
        """))
    result = run_installed(installed, "fvcli", "render", "jobs.yaml", "--out", "out",
                           "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "conv2" / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["units"]) == 2
    assert (tmp_path / "out" / "conv2" / "grid.png").is_file()
    # MACO's natural spectrum is package data the wheel must carry
    assert (tmp_path / "out" / "maco" / "units" / "conv2_0000.alpha.png").is_file()
