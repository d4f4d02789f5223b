"""Shared fixtures: models are loaded or built once per test session."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Renders record their speed under the cache folder: the tests' go to a folder of their own.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="fvcli-test-cache-")

import pytest  # noqa: E402


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


def render_units(network, objective, indices, seeds=None, **settings):
    """Render one image per entry of ``indices`` and return the BatchResult."""
    from fvcli.engine.param import Parameterization
    from fvcli.engine.renderer import Renderer, RenderSettings

    size = settings.pop("size", 64)
    settings.setdefault("steps", 128)
    render_settings = RenderSettings(size=size, param=Parameterization(size), **settings)
    renderer = Renderer(network, objective, render_settings, len(indices))
    seeds = seeds or list(range(len(indices)))
    return renderer.render([[i] for i in indices], seeds)
