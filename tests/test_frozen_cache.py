"""The frozen-graph cache: a cached graph is the model a fresh load gives (same layer table,
same activations), and an entry that is damaged, cut short, another key's or another
model's is never used."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from fvcli.models import frozen_cache, loading


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "fvcli" / "frozen"


def _counting_loads(monkeypatch) -> list:
    """Count the real loads of the TF-Hub model (a cache hit makes none)."""
    loads, real = [], loading._load_hub

    def counted(handle):
        loads.append(handle)
        return real(handle)
    monkeypatch.setattr(loading, "_load_hub", counted)
    return loads


def _activations(network, images):
    forward = network.forward(("Mixed_4b", "Conv2d_2c_3x3"), ("Mixed_4b",), 96)
    return {name: value.numpy() for name, value in forward(images).items()}


def test_a_cached_graph_is_the_model_a_fresh_load_gives(hub_cache, empty_cache, monkeypatch):
    loads = _counting_loads(monkeypatch)
    fresh = loading.load_network("inception_v1")
    assert len(loads) == 1 and len(list(empty_cache.glob("*.frozen"))) == 1
    cached = loading.load_network("inception_v1")
    assert len(loads) == 1  # from the cache: the SavedModel was not loaded again
    assert cached.layers == fresh.layers
    assert cached.fingerprint == fresh.fingerprint
    assert cached.graph_def == fresh.graph_def  # message equality: map order aside
    images = tf.random.stateless_uniform([2, 96, 96, 3], seed=[1, 2])
    expected, got = _activations(fresh, images), _activations(cached, images)
    assert expected.keys() == got.keys()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-6)
    # a damaged entry is not read: the model is loaded again, and the entry rewritten
    (entry,) = empty_cache.glob("*.frozen")
    data = entry.read_bytes()
    entry.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    rebuilt = loading.load_network("inception_v1")
    assert len(loads) == 2 and rebuilt.layers == fresh.layers
    assert frozen_cache.read(entry.stem) is not None


def test_a_cached_hub_model_loads_without_tensorflow_hub(hub_cache, empty_cache, monkeypatch):
    import tensorflow_hub as hub

    from fvcli.config.model_names import DEFAULT_HANDLE

    # fvcli finds the TF-Hub cache's folder of the handle as TF-Hub itself does
    assert loading.fetch_to_cache(DEFAULT_HANDLE) == hub.resolve(DEFAULT_HANDLE)
    loading.load_network("inception_v1")  # fills the frozen-graph cache

    def no_hub():
        raise AssertionError("tensorflow_hub was needed")
    monkeypatch.setattr(loading, "import_tensorflow_hub", no_hub)
    assert loading.load_network("inception_v1").layer("Mixed_4b").channels > 0
    # a handle not in the TF-Hub cache goes to TF-Hub, which fetches it
    with pytest.raises(AssertionError, match="tensorflow_hub was needed"):
        loading.fetch_to_cache(DEFAULT_HANDLE + "-not-cached")


def test_the_tf_hub_folder_is_found_where_tf_hub_looks(hub_cache, tmp_path, monkeypatch):
    import tempfile

    import tensorflow_hub as hub

    from fvcli.config.model_names import DEFAULT_HANDLE

    folder = loading.fetch_to_cache(DEFAULT_HANDLE)
    # without TFHUB_CACHE_DIR, TF-Hub caches in the temporary folder's tfhub_modules
    monkeypatch.delenv("TFHUB_CACHE_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (tmp_path / "tfhub_modules").mkdir()
    (tmp_path / "tfhub_modules" / os.path.basename(folder)).symlink_to(folder)
    assert loading.fetch_to_cache(DEFAULT_HANDLE) == hub.resolve(DEFAULT_HANDLE)
    assert loading.fetch_to_cache(DEFAULT_HANDLE).startswith(str(tmp_path))
    # what TF-Hub resolves otherwise is left to it
    assert loading._hub_cache_folder(folder) is None  # a path is its own folder
    for load_format in ("UNCOMPRESSED", "compressed"):  # read in place; not a format
        monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", load_format)
        assert loading._hub_cache_folder(DEFAULT_HANDLE) is None
    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", "COMPRESSED")
    assert loading._hub_cache_folder(DEFAULT_HANDLE) == hub.resolve(DEFAULT_HANDLE)


def _small_graph():
    graph_def = tf.compat.v1.GraphDef()
    graph_def.node.add(name="images", op="Placeholder")
    graph_def.node.add(name="logits", op="Identity", input=["images"])
    return graph_def


@pytest.mark.parametrize("damage", ["flipped byte", "cut short", "another key's", "not one"])
def test_a_bad_entry_is_never_read(empty_cache, damage):
    key = "ab" * 32
    frozen_cache.write(key, _small_graph(), "logits:0")
    assert frozen_cache.read(key) == (_small_graph(), "logits:0")
    entry = empty_cache / (key + frozen_cache.SUFFIX)
    data = entry.read_bytes()
    if damage == "flipped byte":
        data = data[:-3] + bytes([data[-3] ^ 1]) + data[-2:]
    elif damage == "cut short":
        data = data[:-5]
    elif damage == "another key's":
        data = data.replace(key.encode(), b"cd" * 32, 1)
    else:
        data = b"\x00\xff garbage"
    entry.write_bytes(data)
    assert frozen_cache.read(key) is None


def test_the_key_changes_with_any_byte_of_the_model(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "variables" / "variables.data-00000-of-00001").write_bytes(b"weights")
    key = frozen_cache.model_key(str(model))
    assert frozen_cache.model_key(str(model)) == key
    (model / "variables" / "variables.data-00000-of-00001").write_bytes(b"weighte")
    assert frozen_cache.model_key(str(model)) != key
    shutil.rmtree(model / "variables")
    assert frozen_cache.model_key(str(model)) != key


def test_an_unwritable_cache_only_costs_the_full_load(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    graph_def = tf.compat.v1.GraphDef()
    graph_def.node.add(name="x", op="Placeholder")
    frozen_cache.write("k" * 64, graph_def, "x:0")  # no error
    assert frozen_cache.read("k" * 64) is None
    assert os.listdir(tmp_path) == ["a file"]
