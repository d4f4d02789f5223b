"""Frozen graphs kept in the user's cache folder, so that a later run of the same model
skips loading the SavedModel and freezing its variables (most of a small job's start-up).

An entry is keyed by everything the frozen graph is made from: the bytes of every file of
the model's folder, TensorFlow's version and the source of fvcli's loading code. A changed
model, TensorFlow or fvcli therefore looks for another entry and never finds a stale one.
The graph stored is the one loading makes before any BatchNorm fold (folding depends on
what a render fetches), with the name of the logits tensor.

An entry is one file: a JSON header line (format, key, the payload's SHA-256, the logits
tensor) and the serialized GraphDef. It is written to a temporary file and renamed into
place, so readers never see half of one; one that does not match its key or checksum, or
does not parse, is ignored (and replaced by the next load). Failing to write (a read-only
or full disk) only costs the next run the full load.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import tensorflow as tf

FORMAT = 1
SUFFIX = ".frozen"
# the modules whose code makes the frozen graph (loading, freezing, graph rewrites)
_MAKERS = ("loading.py", "graph.py", "keras_layers.py", "frozen_cache.py")


def cache_folder() -> str:
    """Where frozen graphs are kept: $XDG_CACHE_HOME/fvcli/frozen, or ~/.cache/fvcli/frozen."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fvcli", "frozen")


def model_key(model_folder: str) -> str:
    """The key of a SavedModel folder's frozen graph: a SHA-256 of its files' names and
    bytes, TensorFlow's version and fvcli's loading code."""
    digest = hashlib.sha256(f"fvcli frozen graph {FORMAT}\0{tf.__version__}\0".encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _MAKERS:
        with open(os.path.join(here, name), "rb") as source:
            digest.update(source.read())
    for root, folders, files in os.walk(model_folder):
        folders.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(b"\0" + os.path.relpath(path, model_folder).encode() + b"\0")
            with open(path, "rb") as model_file:
                for block in iter(lambda: model_file.read(1 << 22), b""):
                    digest.update(block)
    return digest.hexdigest()


def read(key: str):
    """(graph_def, logits tensor name) of the entry for ``key``, or None when there is no
    entry or it is damaged, cut short or another key's."""
    try:
        with open(os.path.join(cache_folder(), key + SUFFIX), "rb") as entry:
            header = json.loads(entry.readline())
            payload = entry.read()
        if (header.get("format") != FORMAT or header.get("key") != key
                or hashlib.sha256(payload).hexdigest() != header.get("sha256")):
            return None
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(payload)
        return graph_def, str(header["logits"])
    except Exception:  # missing, unreadable or malformed: all mean "load the model"
        return None


def write(key: str, graph_def, logits: str) -> None:
    """Keep ``graph_def`` and its ``logits`` tensor name under ``key``, atomically; a
    failure to write is ignored."""
    folder = cache_folder()
    payload = graph_def.SerializeToString()
    header = {"format": FORMAT, "key": key, "sha256": hashlib.sha256(payload).hexdigest(),
              "logits": logits}
    temporary = None
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=key[:16], suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as entry:
            entry.write(json.dumps(header).encode() + b"\n")
            entry.write(payload)
        os.replace(temporary, os.path.join(folder, key + SUFFIX))
    except OSError:
        if temporary and os.path.exists(temporary):
            os.remove(temporary)
