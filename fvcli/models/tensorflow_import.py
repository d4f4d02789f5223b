"""Importing TensorFlow without its start-up chatter on stderr (CPU feature and CUDA
notices, absl's pre-initialisation warning), which is not for fvcli's users."""

from __future__ import annotations

import os
import sys
import warnings

from ..timings import phase


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with stderr silenced, unless the user set TF_CPP_MIN_LOG_LEVEL to
    see TensorFlow's messages, or it is imported already."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with phase("tensorflow import"):
            import tensorflow

        # Each job shape traces its own step once; TensorFlow's retracing warning counts
        # those as retraces and would alarm users of multi-job files for nothing.
        tensorflow.get_logger().setLevel("ERROR")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_hub():
    """TensorFlow Hub, imported when a model needs it (a quarter of a second that a render
    from fvcli's frozen-graph cache does without), without the deprecation warning its own
    import of pkg_resources prints."""
    if "tensorflow_hub" in sys.modules:
        return sys.modules["tensorflow_hub"]
    with phase("tensorflow_hub import"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import tensorflow_hub
    return tensorflow_hub
