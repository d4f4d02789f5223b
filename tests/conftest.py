"""The suite's fixtures and its own temporary folder.

Every temporary file of the run (pytest's tmp_path folders, TensorFlow's autograph files,
the speed records renders leave in the cache folder, those of fvcli subprocesses) goes into
one folder, removed when the run ends: the suite leaves /tmp as it found it. Models are
loaded or built once per session.
"""

import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

SUITE_TEMPORARY = tempfile.mkdtemp(prefix="fvcli-tests-")
os.environ["TMPDIR"] = tempfile.tempdir = SUITE_TEMPORARY
# Renders record their speed under the cache folder: the tests' go to a folder of their own.
os.environ["XDG_CACHE_HOME"] = os.path.join(SUITE_TEMPORARY, "cache")


def pytest_unconfigure(config):
    shutil.rmtree(SUITE_TEMPORARY, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_network():
    """The built-in, trained texture classifier."""
    from fvcli.models.loading import load_network

    return load_network("demo")


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory):
    """A TF-Hub cache holding a thin random-weight InceptionV1 under sha1(default handle),
    so the real `hub.load(DEFAULT_HANDLE)` path runs offline."""
    from support.slim_inception import install_in_hub_cache

    cache = str(tmp_path_factory.mktemp("tfhub_cache"))
    install_in_hub_cache(cache, width=0.25)
    previous = os.environ.get("TFHUB_CACHE_DIR")
    os.environ["TFHUB_CACHE_DIR"] = cache
    yield cache
    if previous is None:
        del os.environ["TFHUB_CACHE_DIR"]
    else:
        os.environ["TFHUB_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def hub_network(hub_cache):
    """The default model, loaded through its real TF-Hub handle from the offline cache."""
    from fvcli.models.loading import load_network

    return load_network("inception_v1")
