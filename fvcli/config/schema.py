"""The names and defaults every layer of fvcli shares: objective kinds, precisions and the
settings a job may set, each with its default and its help text.

The YAML checker reads this table for defaults, and the command line for its options'
help, so the two cannot drift apart. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

LOGITS = "logits"  # the layer name of a model's output

UNIT_KINDS = ("channel", "neuron")          # one unit per channel of a layer
CLASS_KINDS = ("logit", "probability")      # one unit per class of the logits
LAYER_KINDS = ("deepdream",)                # one unit for the whole layer
DIRECTION_KINDS = ("direction",)            # one unit per direction in activation space
KINDS = UNIT_KINDS + LAYER_KINDS + CLASS_KINDS + DIRECTION_KINDS  # kinds of a term
JOB_KINDS = KINDS + ("interpolate",)        # kinds a job's objective may name

PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class Key:
    """One setting of a job: its default and what it means."""

    default: object
    help: str


SETTINGS = {
    "size": Key(128, "Image side in pixels (default 128)."),
    "steps": Key(512, "Optimisation steps per image (default 512; 0 writes the starting "
                      "image)."),
    "batch_size": Key(16, "Images optimised together (default 16); auto picks it from the "
                          "device's free memory and prints the estimate."),
    "seed": Key(0, "Random seed (default 0)."),
    "learning_rate": Key(0.05, "Adam's learning rate (default 0.05)."),
    "param": Key({"fft": True, "decorrelate": True, "decay_power": 1.0},
                 "How the image is held: fft, pixel, or {fft, decorrelate, decay_power}."),
    "transforms": Key("standard", "Random transforms before each step: standard, none, or "
                                  "a list of {pad}, {jitter}, {scale}, {rotate}."),
    "regularizers": Key({"l1": 0.0, "tv": 0.0, "blur": 0.0},
                        "Penalty weights on the image: {l1, tv, blur}."),
    "revive": Key(True, "Optimise dead (all-zero) units through their pre-activation "
                        "until they come alive."),
    "precision": Key("auto", "Arithmetic of the network (default auto): bf16 on CPUs that "
                             "compute it natively (AVX512-BF16, AMX), fp16 on GPUs with "
                             "tensor cores, else fp32. Images and optimiser state stay fp32."),
    "xla": Key(False, "Compile the optimisation step with XLA. Helps on GPUs; on CPUs it is "
                      "slower, so off by default."),
}
SETTING_KEYS = tuple(SETTINGS)
DEFAULTS = {name: key.default for name, key in SETTINGS.items()}
