"""Models by name: the built-in ones, handles and paths, and InceptionV1's layer aliases.

Nothing here imports TensorFlow: a model spec is resolved and labelled without loading it.
"""

from __future__ import annotations

import difflib
import shlex
from pathlib import Path

DEFAULT_HANDLE = "https://tfhub.dev/google/imagenet/inception_v1/classification/5"
DEMO_MODEL_DIR = Path(__file__).parent.parent / "models" / "demo_model"

# Named models a job file or --model may use instead of a handle or a path.
NAMED_MODELS = {"inception_v1": {"hub": DEFAULT_HANDLE}, "demo": {"path": str(DEMO_MODEL_DIR)}}

# Distill / Lucid layer names of InceptionV1 -> TF-Slim names of the TF-Hub model.
INCEPTION_V1_ALIASES = {
    "conv2d0": "Conv2d_1a_7x7", "conv2d1": "Conv2d_2b_1x1", "conv2d2": "Conv2d_2c_3x3",
    "mixed3a": "Mixed_3b", "mixed3b": "Mixed_3c",
    "mixed4a": "Mixed_4b", "mixed4b": "Mixed_4c", "mixed4c": "Mixed_4d",
    "mixed4d": "Mixed_4e", "mixed4e": "Mixed_4f",
    "mixed5a": "Mixed_5b", "mixed5b": "Mixed_5c",
}


def resolve_model_spec(spec) -> dict:
    """Normalise a model spec (name, handle, path or mapping) to {"hub": ..} or {"path": ..}."""
    if isinstance(spec, dict):
        return dict(spec)
    text = str(spec)
    if text in NAMED_MODELS:
        return dict(NAMED_MODELS[text])
    if "://" in text:
        return {"hub": text}
    return {"path": text}


def model_label(spec: dict) -> str:
    """What a person would call this model: the handle or the path."""
    return spec.get("hub") or spec.get("path")


def model_name(spec) -> str:
    """The model as the user named it, for messages: a built-in name as written (``demo``,
    not the folder it lives in), else the handle or the path."""
    if isinstance(spec, str):
        return spec
    return model_label(resolve_model_spec(spec)) or "MODEL"


def layers_command(spec) -> str:
    """The command that lists the layers of model ``spec``, as a hint that works as typed:
    plain ``fvcli layers`` only for the default model, which it loads."""
    name = model_name(spec)
    if name in ("inception_v1", DEFAULT_HANDLE):
        return "fvcli layers"
    return f"fvcli layers --model {shlex.quote(name)}"


def close_model_name(path: str) -> str | None:
    """The built-in model a missing path was probably meant to name (``Demo`` -> ``demo``),
    judged by its last part, which a job file's folder was put in front of; None for a
    path with a suffix (``m.keras``), which names a file."""
    last = Path(str(path)).name
    if "." in last:
        return None
    close = difflib.get_close_matches(last.lower().replace("-", "_"), NAMED_MODELS, n=1,
                                      cutoff=0.75)
    return close[0] if close else None
