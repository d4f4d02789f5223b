"""Load a network: every source ends as one frozen graph with a layer table.

A TF-Hub handle, a SavedModel folder, a ``.keras`` file or the built-in demo model is
loaded as one concrete function from images to outputs; its variables are frozen into
constants, and its graph is searched for the layers objectives can target
(:mod:`fvcli.models.layer_table`). :class:`fvcli.models.network.Network` then prunes it
for each render.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass

import tensorflow as tf

from ..config import LOGITS
from . import frozen_cache
from .errors import ModelError, ModelUnavailable
from .graph import frozen_graph_def, import_at_size, through_identities, \
    without_grouped_conv_calls
from .keras_layers import keras_layer_function
from .layer_table import Layer, find_layers, named_layer_table
from ..config.model_names import close_model_name, layers_command, model_label, model_name, \
    resolve_model_spec
from .network import Network
from .preprocess import NAMED as NAMED_PREPROCESS
from .preprocess import Preprocess, from_input_range
from .preprocess import from_spec as preprocess_from_spec
from .tensorflow_import import import_tensorflow_hub
from ..timings import phase


def load_network(spec, table_size: int | None = None) -> Network:
    """Load a model (see :func:`resolve_model_spec`) and build its layer table, with
    shapes at ``table_size`` px (default: the model's own input size, or 224)."""
    written, spec = spec, resolve_model_spec(spec)
    if "hub" not in spec and "path" not in spec:
        raise ModelError("a model needs 'hub: HANDLE' or 'path: SAVEDMODEL_OR_KERAS_FILE'")
    with phase("frozen graph cache"):
        folder = _saved_model_folder(spec)
        key = frozen_cache.model_key(folder) if folder else None
        cached = frozen_cache.read(key) if key else None
    if cached:
        (graph_def, logits), layer_names, outputs = cached, None, None
        fingerprint = os.path.join(folder, "saved_model.pb")
    else:
        # The loaded object owns the variables: keep it alive until they are frozen.
        with phase("model load"):
            loaded = _load_hub(spec["hub"]) if "hub" in spec else _load_path(spec["path"])
        with phase("freeze"):
            graph_def, outputs = frozen_graph_def(loaded.function)
            graph_def = without_grouped_conv_calls(graph_def)
            layer_names, fingerprint = loaded.layer_names, loaded.fingerprint
    with phase("layer table"):
        input_node, channels, native = _image_input(graph_def, model_label(spec))
        table_size = table_size or native or 224
        graph = import_at_size(graph_def, input_node.name, table_size)
        if outputs:  # frozen just now: the logits are found from the model's output
            logits = _logits_tensor(graph.get_tensor_by_name(outputs[-1]))
        if layer_names is not None:
            layers = named_layer_table(graph, layer_names, outputs[:-1])
        else:
            layers = find_layers(graph)
        layers.append(Layer(name=LOGITS, tensor=logits, pre_activation=(),
                            shape=(int(graph.get_tensor_by_name(logits).shape[-1]),)))
    if key and not cached:
        with phase("frozen graph cache"):
            frozen_cache.write(key, graph_def, logits)
    return Network(description=model_label(spec), name=model_name(written),
                   layers_command=layers_command(written), fingerprint=_fingerprint(fingerprint),
                   graph_def=graph_def, input_name=input_node.name, native_size=native,
                   preprocess=model_preprocess(spec), layers=layers, table_size=table_size,
                   input_channels=channels)


def _saved_model_folder(spec: dict) -> str | None:
    """The SavedModel folder ``spec`` names (a TF-Hub handle's in the TF-Hub cache, which
    it is fetched into if need be), whose frozen graph the cache can hold; None for a Keras
    file, or a path that is no SavedModel (loading it says what is wrong)."""
    if "hub" in spec:
        return fetch_to_cache(spec["hub"])
    path = spec["path"]
    if path.endswith((".keras", ".h5")) or not os.path.isfile(
            os.path.join(path, "saved_model.pb")):
        return None
    return path


def model_preprocess(spec: dict) -> Preprocess:
    """The model's preprocessing: its ``preprocess``, its ``input_range``, or [0, 1]."""
    if "preprocess" in spec:
        return preprocess_from_spec(spec["preprocess"])
    if "input_range" in spec:
        return from_input_range(*spec["input_range"])
    return NAMED_PREPROCESS["none"]


def _image_input(graph_def, label: str):
    """The input placeholder, its channels and its fixed size (or None); ModelError for
    anything but one [batch, height, width, 1 or 3] image input."""
    inputs = [node for node in graph_def.node if node.op == "Placeholder"]
    if len(inputs) != 1:
        raise ModelError(f"{label}: takes {len(inputs)} inputs; fvcli renders models with "
                         "one image input")
    dims = [d.size for d in inputs[0].attr["shape"].shape.dim]
    if len(dims) != 4 or dims[-1] not in (1, 3):
        shape = "x".join("?" if d < 0 else str(d) for d in dims) or "unknown"
        raise ModelError(f"{label}: its input has shape {shape}; fvcli renders images of "
                         "shape batch x height x width x 3 (RGB) or x 1 (grayscale), "
                         "channels last")
    return inputs[0], dims[-1], (dims[1] if dims[1] > 0 else None)


def fetch_to_cache(handle: str) -> str:
    """Make sure ``handle`` is in the TF-Hub cache (downloading it if needed); return its
    folder."""
    cached = _hub_cache_folder(handle)
    if cached:
        return cached
    hub = import_tensorflow_hub()
    try:
        return hub.resolve(handle)
    except Exception as error:  # urllib and tf.errors both surface here; all mean "no model"
        cache = os.environ.get("TFHUB_CACHE_DIR", "the default TF-Hub cache")
        raise ModelUnavailable(
            f"cannot load {handle}: it is not in {cache} and the network is unreachable "
            f"({type(error).__name__}). Run `fvcli model fetch` on a connected machine and "
            "point TFHUB_CACHE_DIR at that cache, or pass --model PATH to a local "
            "SavedModel") from None


def _hub_cache_folder(handle: str) -> str | None:
    """The folder TF-Hub caches a download of an http(s) ``handle`` in, found as TF-Hub
    finds it (sha1 of the handle under TFHUB_CACHE_DIR, or tfhub_modules in the temporary
    folder) without importing it. None, and TF-Hub resolves it, when that folder holds no
    SavedModel yet, for any other kind of handle (a path, gs://), and when
    TFHUB_MODEL_LOAD_FORMAT asks TF-Hub for anything but its compressed, cached
    downloads."""
    if os.environ.get("TFHUB_MODEL_LOAD_FORMAT", "AUTO") not in ("AUTO", "COMPRESSED"):
        return None
    if not handle.startswith(("https://", "http://")):
        return None
    cache = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(),
                                                               "tfhub_modules")
    folder = os.path.join(cache, hashlib.sha1(handle.encode("utf8")).hexdigest())
    return folder if os.path.isfile(os.path.join(folder, "saved_model.pb")) else None


@dataclass
class Loaded:
    """A model as loaded: the object that owns its variables, the function to freeze, the
    file to fingerprint, and for Keras models the names of the layers the function
    returns (before its last output, the model's own)."""

    owner: object
    function: object
    fingerprint: str
    layer_names: list[str] | None = None


def _load_hub(handle: str) -> Loaded:
    hub = import_tensorflow_hub()
    module_dir = fetch_to_cache(handle)
    loaded = hub.load(handle)
    return Loaded(loaded, _serving_function(loaded, handle),
                  os.path.join(module_dir, "saved_model.pb"))


def _load_path(path: str):
    if not os.path.exists(path):
        close = close_model_name(path)
        hint = (f"; did you mean {close}{', the built-in model' if close == 'demo' else ''}?"
                if close else "")
        raise ModelError(f"model path {path} does not exist{hint}")
    if path.endswith((".keras", ".h5")):
        import keras

        not_keras = _not_a_keras_file(path)
        if not_keras:
            raise ModelError(f"{path} is not a Keras model file: {not_keras}")
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as error:  # Keras raises many kinds for a file it cannot read
            raise ModelError(f"{path} is not a Keras model file it can read: "
                             f"{_first_line(error)}") from None
        function, names = keras_layer_function(model, path)
        return Loaded(model, function, path, names)
    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # a folder that is not a SavedModel, or a damaged one
        raise ModelError(f"cannot load {path} as a TF2 SavedModel (damaged, or not one; "
                         f"a Keras model ends in .keras or .h5): {_first_line(error)}") from None
    return Loaded(loaded, _serving_function(loaded, path), os.path.join(path, "saved_model.pb"))


def _not_a_keras_file(path: str) -> str:
    """Why ``path`` cannot be the Keras file its name says, or "": checked before Keras
    reads it, whose own message for a file that is not a zip archive is "File not found"."""
    if os.path.isdir(path):
        return "it is a folder (a SavedModel folder needs a name without .keras or .h5)"
    if path.endswith(".keras") and not zipfile.is_zipfile(path):
        return ("a .keras file is a zip archive, as model.save('NAME.keras') writes it, "
                "and this one is not")
    if path.endswith(".h5"):
        with open(path, "rb") as model_file:
            if model_file.read(8) != b"\x89HDF\r\n\x1a\n":
                return ("a .h5 file is an HDF5 file, as model.save('NAME.h5') writes it, "
                        "and this one is not")
    return ""


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _serving_function(loaded, label: str):
    signatures = getattr(loaded, "signatures", {})
    if "serving_default" in signatures:
        return signatures["serving_default"]
    if signatures:
        return next(iter(signatures.values()))
    raise ModelError(f"{label} has no serving signature to call")


def _logits_tensor(output) -> str:
    """The model's output tensor; if it ends in a softmax, the softmax's input."""
    tensor = through_identities(output)
    if tensor.op.type == "Softmax":
        tensor = tensor.op.inputs[0]
    return tensor.name


def _fingerprint(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as model_file:
        for block in iter(lambda: model_file.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]
